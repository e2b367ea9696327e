import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AliasEncodings, diffSnapshots, Snapshot, type ChangeSet } from '../../../src/cache/snapshot';
import { ENDPOINT } from '../../../src/proto/xds-types';
import { PushQueue } from '../../../src/server/push-queue';
import { translateForGrpc } from '../../../src/translate/grpc/translate';
import { catalogOf, type InstanceSpec } from '../fixtures';

const aliases = new AliasEncodings();
const snapshotOf = (instances: InstanceSpec[]): Snapshot =>
  Snapshot.encode(translateForGrpc(catalogOf(instances)), aliases);
const instance = (n: number): InstanceSpec => ({ id: `i${n}`, version: 'v1', address: `10.0.0.${n}:80` });

interface Call {
  stream: string;
  snapshot: Snapshot;
  previous: Snapshot | undefined;
  changes: ChangeSet;
}

/** A queue whose turns run when told; each push takes `pushMs` of its clock. */
function queue(
  slice: number,
  { sliceMs = Infinity, pushMs = 0 }: { sliceMs?: number; pushMs?: number } = {},
): {
  queue: PushQueue<string>;
  calls: Call[];
  turn: () => void;
  pending: () => boolean;
  idle: () => number;
} {
  const calls: Call[] = [];
  const scheduled: (() => void)[] = [];
  let clock = 0;
  let idle = 0;
  const pushQueue = new PushQueue<string>(
    (stream, snapshot, changes, previous) => {
      clock += pushMs;
      calls.push({ stream, snapshot, previous, changes });
    },
    { slice, sliceMs, schedule: (run) => scheduled.push(run), onIdle: () => idle++, now: () => clock },
  );
  return {
    queue: pushQueue,
    calls,
    turn: () => scheduled.shift()?.(),
    pending: () => scheduled.length > 0,
    idle: () => idle,
  };
}

describe('PushQueue', () => {
  it('pushes a slice of streams per event-loop turn, in order', () => {
    const s0 = snapshotOf([instance(1)]);
    const s1 = snapshotOf([instance(1), instance(2)]);
    const { queue: q, calls, turn, pending } = queue(2);
    q.enqueue('grpc', s1, diffSnapshots(s0, s1), s0, ['a', 'b', 'c', 'd', 'e']);
    assert.equal(calls.length, 0, 'nothing runs synchronously');
    assert.equal(q.backlog, 5);
    turn();
    assert.deepEqual(
      calls.map((c) => c.stream),
      ['a', 'b'],
    );
    turn();
    turn();
    assert.deepEqual(
      calls.map((c) => c.stream),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.equal(pending(), false);
    assert.equal(q.backlog, 0);
  });

  it('ends a turn once it has run for the time budget, and says when everything has gone out', () => {
    const s0 = snapshotOf([instance(1)]);
    const s1 = snapshotOf([instance(1), instance(2)]);
    const streams = Array.from({ length: 100 }, (_, i) => `s${i}`);
    const { queue: q, calls, turn, idle } = queue(1000, { sliceMs: 8, pushMs: 0.25 });
    q.enqueue('grpc', s1, diffSnapshots(s0, s1), s0, streams);
    assert.equal(q.busy, true);
    turn();
    // The clock is read every 16 streams: 32 pushes reach 8 ms.
    assert.equal(calls.length, 32);
    assert.equal(idle(), 0);
    turn();
    turn();
    turn();
    assert.equal(calls.length, 100);
    assert.equal(q.busy, false);
    assert.equal(idle(), 1, 'idle once, after the last slice');
  });

  it('a newer snapshot re-plans the streams not reached yet from what they last got, once', () => {
    const s0 = snapshotOf([instance(1)]);
    const s1 = snapshotOf([instance(1), instance(2)]);
    const s2 = snapshotOf([instance(1), instance(2), instance(3)]);
    const { queue: q, calls, turn } = queue(2);
    q.enqueue('grpc', s1, diffSnapshots(s0, s1), s0, ['a', 'b', 'c', 'd']);
    turn(); // a, b get s1
    q.enqueue('grpc', s2, diffSnapshots(s1, s2), s1, ['a', 'b', 'c', 'd']);
    while (q.backlog > 0) turn();
    const byStream = new Map<string, Call[]>();
    for (const call of calls) byStream.set(call.stream, [...(byStream.get(call.stream) ?? []), call]);
    // a and b: s0 → s1, then s1 → s2. c and d: s0 → s2 directly, never s1.
    for (const stream of ['a', 'b']) {
      assert.deepEqual(
        byStream.get(stream)!.map((c) => [c.previous, c.snapshot]),
        [
          [s0, s1],
          [s1, s2],
        ],
      );
    }
    for (const stream of ['c', 'd']) {
      const [only, ...more] = byStream.get(stream)!;
      assert.equal(more.length, 0);
      assert.equal(only.previous, s0);
      assert.equal(only.snapshot, s2);
      assert.deepEqual(only.changes.get(ENDPOINT), diffSnapshots(s0, s2).get(ENDPOINT));
    }
  });

  it('keeps other flavours queued as they were when one flavour gets a newer snapshot', () => {
    const s0 = snapshotOf([instance(1)]);
    const s1 = snapshotOf([instance(1), instance(2)]);
    const s2 = snapshotOf([instance(1), instance(2), instance(3)]);
    const { queue: q, calls, turn, pending } = queue(1);
    q.enqueue('grpc', s1, diffSnapshots(s0, s1), s0, ['a', 'b']);
    q.enqueue('envoy', s1, diffSnapshots(s0, s1), s0, ['e']);
    turn();
    q.enqueue('grpc', s2, diffSnapshots(s1, s2), s1, ['a']);
    while (pending()) turn();
    assert.deepEqual(
      calls.map((c) => [c.stream, c.snapshot]),
      [
        ['a', s1],
        ['e', s1],
        ['b', s2],
        ['a', s2],
      ],
    );
    // The envoy push is untouched: its own snapshot and changes.
    assert.equal(calls[1].previous, s0);
  });

  it('queues many groups in one turn in order, and a group whose push has gone out afresh', () => {
    const s0 = snapshotOf([instance(1)]);
    const s1 = snapshotOf([instance(1), instance(2)]);
    const s2 = snapshotOf([instance(1), instance(2), instance(3)]);
    const { queue: q, calls, turn, pending } = queue(4);
    const groups = Array.from({ length: 10 }, (_, i) => `g${i}`);
    for (const group of groups) q.enqueue(group, s1, diffSnapshots(s0, s1), s0, [`${group}.a`, `${group}.b`]);
    q.enqueue('g9', s1, diffSnapshots(s0, s1), s0, []);
    assert.equal(q.backlog, 20);
    while (pending()) turn();
    assert.deepEqual(
      calls.map((c) => c.stream),
      groups.flatMap((group) => [`${group}.a`, `${group}.b`]),
    );
    // Nothing of g0 is queued any more: its next push is not a re-plan of the last one.
    q.enqueue('g0', s2, diffSnapshots(s1, s2), s1, ['g0.a']);
    while (pending()) turn();
    assert.equal(calls.length, 21);
    assert.equal(calls[20].previous, s1);
    assert.equal(calls[20].snapshot, s2);
    assert.equal(q.busy, false);
  });

  it('clear() drops everything queued', () => {
    const s0 = snapshotOf([instance(1)]);
    const s1 = snapshotOf([instance(1), instance(2)]);
    const { queue: q, calls, turn } = queue(1);
    q.enqueue('grpc', s1, diffSnapshots(s0, s1), s0, ['a', 'b']);
    q.enqueue('envoy', s1, diffSnapshots(s0, s1), s0, ['e']);
    turn();
    assert.equal(q.backlog, 2);
    q.clear();
    turn();
    assert.deepEqual(
      calls.map((c) => c.stream),
      ['a'],
    );
    assert.equal(q.backlog, 0);
  });
});
