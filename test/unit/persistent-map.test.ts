import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PersistentMap } from '../../src/persistent-map';
import { compareStrings } from '../../src/stable-order';
import { random } from './fixtures';

function assertSame(map: PersistentMap<number>, reference: ReadonlyMap<string, number>, label: string): void {
  assert.equal(map.size, reference.size, `${label}: size`);
  const expected = [...reference].sort(([a], [b]) => compareStrings(a, b));
  assert.deepEqual([...map], expected, `${label}: entries in key order`);
  for (const [key, value] of reference) assert.equal(map.get(key), value, `${label}: get ${key}`);
}

describe('PersistentMap', () => {
  it('behaves like a Map iterated in key order, and every older version stays as it was', () => {
    const next = random(7);
    let map = PersistentMap.empty<number>();
    const reference = new Map<string, number>();
    const history: { map: PersistentMap<number>; entries: Map<string, number> }[] = [];
    for (let step = 0; step < 400; step++) {
      const updates: [string, number | undefined][] = [];
      for (let i = 0, n = 1 + Math.floor(next() * 20); i < n; i++) {
        const key = `svc-${Math.floor(next() * 300)}/${next() < 0.5 ? 'v1' : 'v2'}`;
        updates.push([key, next() < 0.3 ? undefined : Math.floor(next() * 5)]);
      }
      map = map.with(updates);
      for (const [key, value] of updates) {
        if (value === undefined) reference.delete(key);
        else reference.set(key, value);
      }
      // Iterate only sometimes: the order is then derived over several versions, or sorted anew.
      if (next() < 0.3) assertSame(map, reference, `step ${step}`);
      else assert.equal(map.size, reference.size);
      if (step % 50 === 0) history.push({ map, entries: new Map(reference) });
    }
    assertSame(map, reference, 'end');
    for (const [i, { map: old, entries }] of history.entries()) assertSame(old, entries, `version ${i}`);
  });

  it('derives its order over a long run of one-key copies nobody iterated (a catalog per etcd event)', () => {
    const reference = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) reference.set(`svc-${i}`, i);
    let map = PersistentMap.from([...reference].sort(([a], [b]) => compareStrings(a, b)));
    assertSame(map, reference, 'start');
    const next = random(11);
    for (let step = 0; step < 1_000; step++) {
      const key = `svc-${Math.floor(next() * 12_000)}`;
      const value = next() < 0.2 ? undefined : step;
      map = map.with([[key, value]]);
      if (value === undefined) reference.delete(key);
      else reference.set(key, value);
    }
    assertSame(map, reference, 'after 1,000 copies');
  });

  it('returns itself when an update changes nothing; deletes of missing keys are no-ops', () => {
    const map = PersistentMap.from([
      ['b', 2],
      ['a', 1],
    ]);
    assert.equal(map.with([['a', 1]]), map);
    assert.equal(map.with([['zz', undefined]]), map);
    assert.deepEqual([...map.keys()], ['a', 'b']);
    assert.deepEqual([...map.values()], [1, 2]);
    const seen: string[] = [];
    map.forEach((value, key) => seen.push(`${key}=${value}`));
    assert.deepEqual(seen, ['a=1', 'b=2']);
    assert.equal(map.has('a'), true);
    assert.equal(map.has('c'), false);
  });

  it('a later update of the same key wins', () => {
    const map = PersistentMap.empty<number>().with([
      ['k', 1],
      ['k', undefined],
      ['k', 3],
    ]);
    assert.deepEqual([...map], [['k', 3]]);
  });
});
