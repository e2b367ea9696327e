import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeSet } from '../../../src/cache/snapshot';
import { CLUSTER, ENDPOINT } from '../../../src/proto/xds-types';
import { NackBackoff } from '../../../src/server/nack-backoff';

const change = (type = CLUSTER, updated: string[] = [], removed: string[] = []): ChangeSet =>
  new Map([[type, { updated: new Set(updated), removed: new Set(removed) }]]);

describe('NackBackoff', () => {
  it('doubles the wait with every NACK in a row, up to 30 s, and an ACK ends it', () => {
    const backoff = new NackBackoff();
    assert.equal(backoff.delay(0), 0);
    const waits = [];
    for (let i = 0; i < 10; i++) {
      backoff.nacked(1_000);
      waits.push(backoff.delay(1_000));
    }
    assert.deepEqual(waits, [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    backoff.acked();
    assert.equal(backoff.delay(1_000), 0);
  });

  it('merges deferred changes, later ones winning, and flushes once', async () => {
    const backoff = new NackBackoff();
    let flushed = 0;
    backoff.defer(change(CLUSTER, ['a', 'b'], ['c']), undefined, 5, () => flushed++);
    backoff.defer(change(CLUSTER, ['c'], ['a']), undefined, 5, () => flushed++);
    backoff.defer(change(ENDPOINT, ['e']), undefined, 5, () => flushed++);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(flushed, 1);
    const taken = backoff.take();
    assert.deepEqual([...taken!.changes.get(CLUSTER)!.updated].sort(), ['b', 'c']);
    assert.deepEqual([...taken!.changes.get(CLUSTER)!.removed], ['a']);
    assert.deepEqual([...taken!.changes.get(ENDPOINT)!.updated], ['e']);
    assert.equal(backoff.take(), undefined);
  });
});
