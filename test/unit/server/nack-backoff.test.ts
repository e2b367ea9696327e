import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeSet } from '../../../src/cache/snapshot';
import { CLUSTER, ENDPOINT } from '../../../src/proto/xds-types';
import { HeldChanges } from '../../../src/server/held-changes';
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

  it('waits once at a time, and an ACK cancels the wait', async () => {
    const backoff = new NackBackoff();
    let woken = 0;
    backoff.wait(5, () => woken++);
    backoff.wait(5, () => woken++);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(woken, 1);
    backoff.wait(5, () => woken++);
    backoff.acked();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(woken, 1);
  });
});

describe('HeldChanges', () => {
  it('merges pushes, later changes of a name winning, and counts them', () => {
    const held = new HeldChanges();
    held.merge(change(CLUSTER, ['a', 'b'], ['c']));
    held.merge(change(CLUSTER, ['c'], ['a']));
    held.merge(change(ENDPOINT, ['e']));
    const changes = held.changes();
    assert.deepEqual([...changes.get(CLUSTER)!.updated].sort(), ['b', 'c']);
    assert.deepEqual([...changes.get(CLUSTER)!.removed], ['a']);
    assert.deepEqual([...changes.get(ENDPOINT)!.updated], ['e']);
    assert.equal(held.pushes, 3);
  });

  it('leaves out types without changes', () => {
    const held = new HeldChanges();
    held.merge(change(ENDPOINT));
    assert.equal(held.changes().size, 0);
    held.merge(change(CLUSTER, ['a']));
    assert.deepEqual([...held.changes().keys()], [CLUSTER]);
  });
});
