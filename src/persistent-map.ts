// PersistentMap: an immutable string-keyed map whose copy with a few entries changed costs what
// changed, not its size. The snapshot pipeline keeps every catalog, resource set and snapshot as
// one of these, so one change at 100,000 services touches a few buckets instead of copying (and
// re-sorting) every entry.
//
// Entries live in BUCKETS plain Maps chosen by a hash of the key; a copy shares every bucket it
// did not change. Lookups cost one string hash and one Map lookup. Iteration is in key order
// (compareStrings), as every consumer of a catalog or snapshot expects: the sorted entries are
// computed on the first iteration, from the parent's when it had them (a merge, no sort), and
// kept.
import { compareStrings } from './stable-order';

const BUCKETS = 256;

function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % BUCKETS;
}

/** A change to apply: a key with its new value, or undefined to delete it. */
export type Update<V> = readonly [key: string, value: V | undefined];

export class PersistentMap<V> implements ReadonlyMap<string, V> {
  private sortedEntries: readonly (readonly [string, V])[] | undefined;

  private constructor(
    private readonly buckets: readonly (ReadonlyMap<string, V> | undefined)[],
    readonly size: number,
    /** Where this map came from and how, while its sorted keys may still be derived from it. */
    private parent: { map: PersistentMap<V>; changed: ReadonlySet<string> } | undefined,
  ) {}

  static empty<V>(): PersistentMap<V> {
    return new PersistentMap<V>(new Array<undefined>(BUCKETS).fill(undefined), 0, undefined);
  }

  /** A map of `entries` (a later entry of a key wins). */
  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    const buckets: (Map<string, V> | undefined)[] = new Array<undefined>(BUCKETS).fill(undefined);
    const list: (readonly [string, V])[] = [];
    let sorted = true;
    for (const entry of entries) {
      const index = bucketOf(entry[0]);
      (buckets[index] ??= new Map()).set(entry[0], entry[1]);
      if (sorted && list.length > 0 && compareStrings(list[list.length - 1][0], entry[0]) >= 0)
        sorted = false;
      list.push(entry);
    }
    const size = buckets.reduce((sum, bucket) => sum + (bucket?.size ?? 0), 0);
    const map = new PersistentMap<V>(buckets, size, undefined);
    // Entries given in order (most callers iterate another map): no sort needed later.
    if (sorted) map.sortedEntries = list;
    return map;
  }

  get(key: string): V | undefined {
    return this.buckets[bucketOf(key)]?.get(key);
  }

  has(key: string): boolean {
    return this.buckets[bucketOf(key)]?.has(key) ?? false;
  }

  /**
   * This map with `updates` applied in order (a later update of a key wins); this one is
   * unchanged. Costs the updates and the buckets they touch. Returns this map when nothing
   * changes.
   */
  with(updates: Iterable<Update<V>>): PersistentMap<V> {
    const copied = new Map<number, Map<string, V>>();
    const changed = new Set<string>();
    let size = this.size;
    for (const [key, value] of updates) {
      const index = bucketOf(key);
      const current = copied.get(index) ?? this.buckets[index];
      const had = current?.has(key) ?? false;
      if (value === undefined ? !had : had && current!.get(key) === value) continue;
      let bucket = copied.get(index);
      if (bucket === undefined) copied.set(index, (bucket = new Map(current ?? [])));
      if (value === undefined) {
        bucket.delete(key);
        size--;
      } else {
        bucket.set(key, value);
        if (!had) size++;
      }
      changed.add(key);
    }
    if (changed.size === 0) return this;
    const buckets = [...this.buckets];
    for (const [index, bucket] of copied) buckets[index] = bucket.size === 0 ? undefined : bucket;
    return new PersistentMap(buckets, size, this.derivation(changed));
  }

  /**
   * What a copy of this map with `changed` keys derives its order from: this map if its keys are
   * sorted, else the sorted map this one derives from, with both changes (never a longer chain:
   * a map keeps at most one older map alive). Nothing once the changes pile up past an eighth of
   * the map: sorting anew is then about as cheap.
   */
  private derivation(changed: Set<string>): PersistentMap<V>['parent'] {
    if (this.sortedEntries !== undefined) return { map: this, changed };
    if (this.parent === undefined || this.parent.changed.size + changed.size > this.size / 8 + 64)
      return undefined;
    for (const key of this.parent.changed) changed.add(key);
    return { map: this.parent.map, changed };
  }

  /** Keys in order. */
  *keys(): MapIterator<string> {
    for (const entry of this.sorted()) yield entry[0];
  }

  *values(): MapIterator<V> {
    for (const entry of this.sorted()) yield entry[1];
  }

  /** Entries in key order (the map's own pairs: do not modify them). */
  entries(): MapIterator<[string, V]> {
    return this.sorted()[Symbol.iterator]() as unknown as MapIterator<[string, V]>;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.sorted()) callback.call(thisArg, value, key, this);
  }

  private sorted(): readonly (readonly [string, V])[] {
    if (this.sortedEntries !== undefined) return this.sortedEntries;
    const parentEntries = this.parent?.map.sortedEntries;
    if (this.parent !== undefined && parentEntries !== undefined) {
      // The parent's entries without the changed keys, merged with the changed keys' entries now.
      const { changed } = this.parent;
      const added: (readonly [string, V])[] = [];
      for (const key of changed) {
        const value = this.get(key);
        if (value !== undefined) added.push([key, value]);
      }
      added.sort(([a], [b]) => compareStrings(a, b));
      const entries: (readonly [string, V])[] = [];
      let a = 0;
      for (const entry of parentEntries) {
        if (changed.has(entry[0])) continue;
        while (a < added.length && compareStrings(added[a][0], entry[0]) < 0) entries.push(added[a++]);
        entries.push(entry);
      }
      while (a < added.length) entries.push(added[a++]);
      this.sortedEntries = entries;
    } else {
      const entries: (readonly [string, V])[] = [];
      for (const bucket of this.buckets)
        if (bucket !== undefined) for (const entry of bucket) entries.push(entry);
      this.sortedEntries = entries.sort(([a], [b]) => compareStrings(a, b));
    }
    // Known now: the parent is no longer needed (and may be collected).
    this.parent = undefined;
    return this.sortedEntries;
  }
}
