// The one ordering used wherever output order matters: translation must give the same bytes on
// every replica, so nothing may depend on etcd delivery order or locale.

/** Orders strings by UTF-16 code units, like Array.prototype.sort's default. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy of `map` with its entries sorted by key. */
export function sortedByKey<V>(map: ReadonlyMap<string, V>): Map<string, V> {
  return new Map([...map].sort(([a], [b]) => compareStrings(a, b)));
}
