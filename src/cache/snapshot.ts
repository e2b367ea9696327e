// Snapshot: the encoded resources of one ResourceSet, looked up by the names clients ask for,
// and the difference between two snapshots.
import { PUSH_ORDER, type XdsType } from '../proto/xds-types';
import { PersistentMap } from '../persistent-map';
import type { Resource, ResourceSet, TouchedNames } from '../translate/resource-set';
import { encodeResource, type EncodedResource } from './encoded-resource';

/** Encodings of alias names (listener `app:50051`), shared across snapshots; bounded. */
export class AliasEncodings {
  private readonly byKey = new Map<string, EncodedResource>();
  constructor(private readonly limit = 10_000) {}

  get(type: XdsType, name: string, build: () => EncodedResource): EncodedResource {
    const key = `${type.typeUrl} ${name}`;
    let encoded = this.byKey.get(key);
    if (encoded === undefined) {
      if (this.byKey.size >= this.limit) this.byKey.clear();
      encoded = build();
      this.byKey.set(key, encoded);
    }
    return encoded;
  }
}

/** Per type: the XOR of every resource's 64-bit mix (see `mix`), as two 32-bit halves. */
interface TypeSum {
  high: number;
  low: number;
}

/**
 * The encoded resources a client of one view is served. A view that differs from its flavour's
 * plain view only in a few resources (caller routes) is that snapshot plus those overrides: the
 * same names, other content, and no copy of the rest.
 */
export class Snapshot {
  private readonly sums = new Map<XdsType, TypeSum>();
  /** typeVersion's strings, made once: every stream sent a type keeps its version_info. */
  private readonly versions = new Map<XdsType, string>();

  private constructor(
    readonly resourceSet: ResourceSet,
    private readonly byType: ReadonlyMap<XdsType, PersistentMap<EncodedResource>>,
    private readonly aliases: AliasEncodings,
    /** When the oldest etcd change this snapshot carries was seen (performance.now()), if known. */
    readonly observedAt: number | undefined,
    /** The snapshot this one overrides resources of (undefined for a plain snapshot). */
    readonly base: Snapshot | undefined,
    /** Per type, the resources that replace the base's of the same name. */
    private readonly overrides: ReadonlyMap<XdsType, ReadonlyMap<string, EncodedResource>>,
  ) {}

  static encode(resourceSet: ResourceSet, aliases: AliasEncodings, observedAt?: number): Snapshot {
    const byType = new Map<XdsType, PersistentMap<EncodedResource>>();
    for (const [type, resources] of resourceSet.byType) {
      const encoded: [string, EncodedResource][] = [];
      for (const [name, resource] of resources) encoded.push([name, encodeResource(resource)]);
      byType.set(type, PersistentMap.from(encoded));
    }
    return new Snapshot(resourceSet, byType, aliases, observedAt, undefined, new Map());
  }

  /**
   * The snapshot of `resourceSet`, which differs from `previous`'s set at most in the `touched`
   * names, and what changed: built from `previous` in time proportional to those names (encoding
   * only resources not encoded before, type versions updated by XOR). Equal to `encode` and
   * `diffSnapshots(previous, …)`. `previous` must be a plain snapshot.
   */
  static update(
    previous: Snapshot,
    resourceSet: ResourceSet,
    touched: TouchedNames,
    observedAt?: number,
  ): { snapshot: Snapshot; changes: ChangeSet } {
    if (previous.base !== undefined) throw new Error('Snapshot.update takes a plain snapshot');
    const byType = new Map(previous.byType);
    const changes = new Map<XdsType, TypeChanges>();
    const sums = new Map<XdsType, TypeSum>();
    for (const [type, names] of touched) {
      if (names.size === 0) continue;
      const before = previous.byType.get(type)!;
      const resources = resourceSet.byType.get(type)!;
      const updated = new Set<string>();
      const removed = new Set<string>();
      const updates: [string, EncodedResource | undefined][] = [];
      const known = previous.sums.get(type);
      const sum = known === undefined ? undefined : { ...known };
      for (const name of names) {
        const old = before.get(name);
        const resource = resources.get(name);
        const now = resource === undefined ? undefined : encodeResource(resource);
        if (now === undefined && old === undefined) continue;
        if (now === undefined) removed.add(name);
        else if (old?.version !== now.version) updated.add(name);
        else continue;
        updates.push([name, now]);
        if (sum !== undefined) {
          if (old !== undefined) addMix(sum, old);
          if (now !== undefined) addMix(sum, now);
        }
      }
      if (updates.length === 0) continue;
      byType.set(type, before.with(updates));
      changes.set(type, { updated, removed });
      if (sum !== undefined) sums.set(type, sum);
    }
    const snapshot = new Snapshot(resourceSet, byType, previous.aliases, observedAt, undefined, new Map());
    // Types whose resources did not change keep their versions; the others were updated above.
    for (const type of PUSH_ORDER) {
      const sum = changes.has(type) ? sums.get(type) : previous.sums.get(type);
      if (sum !== undefined) snapshot.sums.set(type, sum);
    }
    return { snapshot, changes };
  }

  /**
   * This snapshot with `resources` in place of the ones of the same name (each must exist here).
   * Returns this snapshot itself when nothing differs.
   */
  withOverrides(resources: readonly Resource[]): Snapshot {
    const overrides = new Map<XdsType, Map<string, EncodedResource>>();
    for (const resource of resources) {
      const encoded = encodeResource(resource);
      const current = this.byType.get(resource.type)?.get(resource.name);
      if (current === undefined)
        throw new Error(`override of a missing ${resource.type.short} ${resource.name}`);
      if (current.version === encoded.version) continue;
      let named = overrides.get(resource.type);
      if (named === undefined) overrides.set(resource.type, (named = new Map<string, EncodedResource>()));
      named.set(resource.name, encoded);
    }
    if (overrides.size === 0) return this;
    return new Snapshot(this.resourceSet, this.byType, this.aliases, this.observedAt, this, overrides);
  }

  /**
   * This snapshot's overrides over `base`, a later plain snapshot of the same flavour whose
   * resources of every name the overrides were made for are those of this one's base (the caller
   * knows it from what changed between them): what `withOverrides` of the same resources gives
   * there, without encoding or comparing them again. A snapshot without overrides gives `base`.
   */
  rebased(base: Snapshot): Snapshot {
    if (base.base !== undefined) throw new Error('Snapshot.rebased takes a plain snapshot');
    if (this.base === undefined) return base;
    return new Snapshot(base.resourceSet, base.byType, base.aliases, base.observedAt, base, this.overrides);
  }

  /** The plain snapshot under any overrides. */
  get root(): Snapshot {
    return this.base ?? this;
  }

  get revision(): number {
    return this.resourceSet.revision;
  }

  /** The resource a client asking for `name` gets, if it exists. */
  get(type: XdsType, name: string): EncodedResource | undefined {
    const direct = this.overrides.get(type)?.get(name) ?? this.byType.get(type)?.get(name);
    if (direct !== undefined) return direct;
    const alias = this.resourceSet.alias(type, name);
    if (alias === undefined) return undefined;
    return this.aliases.get(type, name, () => encodeResource(alias.build()));
  }

  /** Every resource of a type, sorted by name (what a wildcard subscription gets). */
  all(type: XdsType): Iterable<EncodedResource> {
    const resources = this.byType.get(type)?.values() ?? [];
    const overrides = this.overrides.get(type);
    if (overrides === undefined) return resources;
    return (function* () {
      for (const resource of resources) yield overrides.get(resource.name) ?? resource;
    })();
  }

  /**
   * The snapshot whose resources and version of `type` this one serves: its base when it
   * overrides nothing of that type. Responses of that type built for one are right for the other.
   */
  ownerOf(type: XdsType): Snapshot {
    return this.base !== undefined && !this.overrides.has(type) ? this.base : this;
  }

  hasOverrides(type: XdsType): boolean {
    return this.overrides.has(type);
  }

  /** Whether this snapshot and `other` override the same resources of `type` (none counts). */
  sameOverrides(other: Snapshot, type: XdsType): boolean {
    const mine = this.overrides.get(type);
    const theirs = other.overrides.get(type);
    // Shared by a rebased snapshot and the one it was rebased from.
    if (mine === theirs) return true;
    if (mine === undefined || theirs === undefined) return false;
    if (mine.size !== theirs.size) return false;
    for (const [name, resource] of mine) if (theirs.get(name) !== resource) return false;
    return true;
  }

  /** The names a type overrides (none for a plain snapshot). */
  overridden(type: XdsType): Iterable<string> {
    return this.overrides.get(type)?.keys() ?? [];
  }

  count(type: XdsType): number {
    return this.byType.get(type)?.size ?? 0;
  }

  /**
   * The version_info of a type: a combination of every resource's name and version that does not
   * depend on order, identical on every replica for the same resources. An overriding snapshot
   * derives it from its base's in time proportional to its overrides.
   */
  typeVersion(type: XdsType): string {
    let version = this.versions.get(type);
    if (version === undefined) {
      const { high, low } = this.sum(type);
      version = hex32(high) + hex32(low);
      this.versions.set(type, version);
    }
    return version;
  }

  private sum(type: XdsType): TypeSum {
    let sum = this.sums.get(type);
    if (sum === undefined) {
      sum = { high: 0, low: 0 };
      const overrides = this.overrides.get(type);
      if (this.base === undefined || overrides === undefined) {
        const plain = this.base?.sum(type);
        if (plain !== undefined) sum = { ...plain };
        else for (const resource of this.all(type)) addMix(sum, resource);
      } else {
        sum = { ...this.base.sum(type) };
        for (const [name, resource] of overrides) {
          addMix(sum, this.byType.get(type)!.get(name)!); // XOR: takes the base's out
          addMix(sum, resource);
        }
      }
      this.sums.set(type, sum);
    }
    return sum;
  }
}

/** XORs a resource's 64-bit mix into a sum: its content version with a hash of its name. */
function addMix(sum: TypeSum, resource: EncodedResource): void {
  sum.high = (sum.high ^ parseInt(resource.version.slice(0, 8), 16)) >>> 0;
  sum.low = (sum.low ^ parseInt(resource.version.slice(8, 16), 16) ^ fnv1a(resource.name)) >>> 0;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}

export interface TypeChanges {
  /** Canonical names added or whose content changed. */
  readonly updated: ReadonlySet<string>;
  /** Canonical names that no longer exist. */
  readonly removed: ReadonlySet<string>;
}

export type ChangeSet = ReadonlyMap<XdsType, TypeChanges>;

/**
 * What changed from `previous` to `next` when `rootChanges` is what changed between their plain
 * snapshots: those changes, with the overridden names of either compared as they resolve. Costs
 * what the plain changes and the overrides cost, not the size of the snapshots.
 */
export function diffViews(previous: Snapshot, next: Snapshot, rootChanges: ChangeSet): ChangeSet {
  if (previous.base === undefined && next.base === undefined) return rootChanges;
  // Most often a view's overrides stay what they were and the plain changes name none of them.
  if (keepsOverrides(previous, next, rootChanges)) return rootChanges;
  const changes = new Map(rootChanges);
  for (const type of PUSH_ORDER) {
    const overridden = new Set([...previous.overridden(type), ...next.overridden(type)]);
    if (overridden.size === 0) continue;
    const root = rootChanges.get(type);
    const compared = compareNames(previous, next, type, [
      ...overridden,
      ...(root?.updated ?? []),
      ...(root?.removed ?? []),
    ]);
    if (compared !== undefined) changes.set(type, compared);
    else changes.delete(type);
  }
  return changes;
}

/**
 * Whether `previous` and `next` override the same resources and `rootChanges` name none of them:
 * then every name resolves as in the plain snapshots, or to the same override on both sides.
 */
function keepsOverrides(previous: Snapshot, next: Snapshot, rootChanges: ChangeSet): boolean {
  for (const type of PUSH_ORDER) {
    if (!previous.sameOverrides(next, type)) return false;
    const root = rootChanges.get(type);
    if (root === undefined || !previous.hasOverrides(type)) continue;
    for (const name of previous.overridden(type))
      if (root.updated.has(name) || root.removed.has(name)) return false;
  }
  return true;
}

/**
 * What changed from `previous` to `next` when `first` is what changed from `previous` to a
 * snapshot in between and `second` what changed from that one to `next`: only the names either
 * lists are compared, so it costs what changed rather than the size of the snapshots.
 */
export function composeChanges(
  previous: Snapshot,
  first: ChangeSet,
  second: ChangeSet,
  next: Snapshot,
): ChangeSet {
  const changes = new Map<XdsType, TypeChanges>();
  for (const type of PUSH_ORDER) {
    const names = new Set<string>();
    for (const step of [first.get(type), second.get(type)]) {
      if (step === undefined) continue;
      for (const name of step.updated) names.add(name);
      for (const name of step.removed) names.add(name);
    }
    const compared = compareNames(previous, next, type, names);
    if (compared !== undefined) changes.set(type, compared);
  }
  return changes;
}

/** Which of `names` differ from `previous` to `next` (as each resolves there); undefined: none. */
function compareNames(
  previous: Snapshot,
  next: Snapshot,
  type: XdsType,
  names: Iterable<string>,
): TypeChanges | undefined {
  const updated = new Set<string>();
  const removed = new Set<string>();
  for (const name of names) {
    const before = previous.get(type, name);
    const after = next.get(type, name);
    if (after === undefined) {
      if (before !== undefined) removed.add(name);
    } else if (before?.version !== after.version) updated.add(name);
  }
  return updated.size > 0 || removed.size > 0 ? { updated, removed } : undefined;
}

/** What changed from `previous` to `next`, per type; types without changes are absent. */
export function diffSnapshots(previous: Snapshot | undefined, next: Snapshot): ChangeSet {
  const changes = new Map<XdsType, TypeChanges>();
  for (const type of PUSH_ORDER) {
    const updated = new Set<string>();
    const removed = new Set<string>();
    const before = new Map<string, EncodedResource>();
    if (previous !== undefined)
      for (const resource of previous.all(type)) before.set(resource.name, resource);
    for (const resource of next.all(type)) {
      if (before.get(resource.name)?.version !== resource.version) updated.add(resource.name);
      before.delete(resource.name);
    }
    for (const name of before.keys()) removed.add(name);
    if (updated.size > 0 || removed.size > 0) changes.set(type, { updated, removed });
  }
  return changes;
}
