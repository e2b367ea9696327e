// PersistentMap: an immutable string-keyed map whose copy with a few entries changed costs what
// changed, not its size. The snapshot pipeline keeps every catalog, resource set and snapshot as
// one of these, so one change at 100,000 services touches a few buckets instead of copying (and
// re-sorting) every entry.
//
// Entries live in plain Maps (buckets) chosen by a hash of the key, about 8 to a bucket, and the
// buckets in chunks of 64 (a power of two of them, grown as the map grows). A copy shares every
// chunk and bucket it did not change, so a change costs its buckets' entries, their chunks (64
// pointers each) and the chunk array (a 512th of the size). Lookups cost one string hash and one
// Map lookup. Iteration is in key order (compareStrings), as every consumer of a catalog or
// snapshot expects: the sorted entries are computed on the first iteration, from the parent's
// when it had them (a merge, no sort), and kept.
import { compareStrings } from './stable-order';

/** Buckets come in chunks of 64: a copy copies the chunk array, its touched chunks and buckets. */
const CHUNK_BITS = 6;
const CHUNK = 1 << CHUNK_BITS;
const MAX_BUCKETS = 1 << 20;
/** Entries per bucket aimed at when sizing; past GROW_AT a map is rebuilt with more buckets. */
const PER_BUCKET = 8;
const GROW_AT = 4 * PER_BUCKET;

type Bucket<V> = ReadonlyMap<string, V> | undefined;
type Chunk<V> = readonly Bucket<V>[] | undefined;

function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Chunks for `size` entries: a power of two, so a hash picks a bucket with a mask. */
function chunkCount(size: number): number {
  let count = 1;
  while (count * CHUNK < MAX_BUCKETS && count * CHUNK * PER_BUCKET < size) count *= 2;
  return count;
}

/** A change to apply: a key with its new value, or undefined to delete it. */
export type Update<V> = readonly [key: string, value: V | undefined];

/**
 * The keys changed since a sorted map, one set per copy, newest first: a copy adds its own set in
 * front and shares the rest, so a long run of copies nobody iterates (a catalog per etcd event)
 * costs each one its own changes, not all of those before it.
 */
interface ChangeLog {
  readonly keys: ReadonlySet<string>;
  readonly older: ChangeLog | undefined;
  /** Keys in this log and the older ones, counting a key changed twice twice. */
  readonly total: number;
}

interface Derivation<V> {
  /** The nearest ancestor with its sorted entries known. */
  readonly map: PersistentMap<V>;
  readonly changes: ChangeLog;
}

export class PersistentMap<V> implements ReadonlyMap<string, V> {
  private sortedEntries: readonly (readonly [string, V])[] | undefined;
  private readonly mask: number;

  private constructor(
    private readonly chunks: readonly Chunk<V>[],
    readonly size: number,
    /** Where this map came from and how, while its sorted keys may still be derived from it. */
    private parent: Derivation<V> | undefined,
  ) {
    this.mask = chunks.length * CHUNK - 1;
  }

  static empty<V>(): PersistentMap<V> {
    return new PersistentMap<V>([undefined], 0, undefined);
  }

  /**
   * A map of `entries` (a later entry of a key wins). An array given is kept as the map's order
   * when it is sorted: it must not change afterwards.
   */
  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    const list = Array.isArray(entries) ? (entries as (readonly [string, V])[]) : [...entries];
    const count = chunkCount(list.length);
    const mask = count * CHUNK - 1;
    const chunks: (Map<string, V> | undefined)[][] = [];
    for (let c = 0; c < count; c++) chunks.push(new Array<undefined>(CHUNK).fill(undefined));
    let sorted = true;
    let size = 0;
    for (let i = 0; i < list.length; i++) {
      const [key, value] = list[i];
      const index = hashOf(key) & mask;
      const chunk = chunks[index >>> CHUNK_BITS];
      const bucket = (chunk[index & (CHUNK - 1)] ??= new Map());
      if (!bucket.has(key)) size++;
      bucket.set(key, value);
      if (sorted && i > 0 && compareStrings(list[i - 1][0], key) >= 0) sorted = false;
    }
    const map = new PersistentMap<V>(chunks, size, undefined);
    // Entries given in order (most callers iterate another map): no sort needed later.
    if (sorted) map.sortedEntries = list;
    return map;
  }

  get(key: string): V | undefined {
    return this.bucket(hashOf(key) & this.mask)?.get(key);
  }

  has(key: string): boolean {
    return this.bucket(hashOf(key) & this.mask)?.has(key) ?? false;
  }

  private bucket(index: number): Bucket<V> {
    return this.chunks[index >>> CHUNK_BITS]?.[index & (CHUNK - 1)];
  }

  /**
   * This map with `updates` applied in order (a later update of a key wins); this one is
   * unchanged. Costs the updates, the buckets and chunks they touch and the chunk array. Returns
   * this map when nothing changes.
   */
  with(updates: Iterable<Update<V>>): PersistentMap<V> {
    const copied = new Map<number, Map<string, V>>();
    const changed = new Set<string>();
    let size = this.size;
    for (const [key, value] of updates) {
      const index = hashOf(key) & this.mask;
      const current = copied.get(index) ?? this.bucket(index);
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
    const chunks = [...this.chunks];
    const copiedChunks = new Set<number>();
    for (const [index, bucket] of copied) {
      const c = index >>> CHUNK_BITS;
      if (!copiedChunks.has(c)) {
        copiedChunks.add(c);
        chunks[c] = chunks[c] === undefined ? new Array<undefined>(CHUNK).fill(undefined) : [...chunks[c]];
      }
      (chunks[c] as Bucket<V>[])[index & (CHUNK - 1)] = bucket.size === 0 ? undefined : bucket;
    }
    const map = new PersistentMap(chunks, size, this.derivation(changed));
    if (size <= (this.mask + 1) * GROW_AT || this.mask + 1 >= MAX_BUCKETS) return map;
    // Grown past its buckets (a catalog's first listing, a growing catalog): rebuilt with more,
    // in key order.
    return PersistentMap.from(map.sorted());
  }

  private *unorderedEntries(): Iterable<readonly [string, V]> {
    for (const chunk of this.chunks)
      if (chunk !== undefined) for (const bucket of chunk) if (bucket !== undefined) yield* bucket;
  }

  /**
   * What a copy of this map with `changed` keys derives its order from: this map if its keys are
   * sorted, else the sorted map this one derives from, with `changed` in front of this one's
   * change log (shared, not copied; a map keeps at most one older map alive). Nothing once the
   * changes pile up past an eighth of the map: sorting anew is then about as cheap.
   */
  private derivation(changed: ReadonlySet<string>): Derivation<V> | undefined {
    if (this.sortedEntries !== undefined)
      return { map: this, changes: { keys: changed, older: undefined, total: changed.size } };
    const parent = this.parent;
    if (parent === undefined || parent.changes.total + changed.size > this.size / 8 + 64) return undefined;
    return {
      map: parent.map,
      changes: { keys: changed, older: parent.changes, total: parent.changes.total + changed.size },
    };
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
      const changed = new Set<string>();
      for (let log: ChangeLog | undefined = this.parent.changes; log !== undefined; log = log.older)
        for (const key of log.keys) changed.add(key);
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
      this.sortedEntries = [...this.unorderedEntries()].sort(([a], [b]) => compareStrings(a, b));
    }
    // Known now: the parent is no longer needed (and may be collected).
    this.parent = undefined;
    return this.sortedEntries;
  }
}
