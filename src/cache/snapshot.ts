// Snapshot: the encoded resources of one ResourceSet, looked up by the names clients ask for,
// and the difference between two snapshots.
import { createHash } from 'node:crypto';
import { PUSH_ORDER, type XdsType } from '../proto/xds-types';
import type { ResourceSet } from '../translate/resource-set';
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

export class Snapshot {
  private readonly typeVersions = new Map<XdsType, string>();

  constructor(
    readonly resourceSet: ResourceSet,
    private readonly byType: ReadonlyMap<XdsType, ReadonlyMap<string, EncodedResource>>,
    private readonly aliases: AliasEncodings,
    /** When the oldest etcd change this snapshot carries was seen (performance.now()), if known. */
    readonly observedAt?: number,
  ) {}

  static encode(resourceSet: ResourceSet, aliases: AliasEncodings, observedAt?: number): Snapshot {
    const byType = new Map<XdsType, Map<string, EncodedResource>>();
    for (const [type, resources] of resourceSet.byType) {
      const encoded = new Map<string, EncodedResource>();
      for (const [name, resource] of resources) encoded.set(name, encodeResource(resource));
      byType.set(type, encoded);
    }
    return new Snapshot(resourceSet, byType, aliases, observedAt);
  }

  get revision(): number {
    return this.resourceSet.revision;
  }

  /** The resource a client asking for `name` gets, if it exists. */
  get(type: XdsType, name: string): EncodedResource | undefined {
    const direct = this.byType.get(type)?.get(name);
    if (direct !== undefined) return direct;
    const alias = this.resourceSet.alias(type, name);
    if (alias === undefined) return undefined;
    return this.aliases.get(type, name, () => encodeResource(alias.build()));
  }

  /** Every resource of a type, sorted by name (what a wildcard subscription gets). */
  all(type: XdsType): Iterable<EncodedResource> {
    return this.byType.get(type)?.values() ?? [];
  }

  count(type: XdsType): number {
    return this.byType.get(type)?.size ?? 0;
  }

  /**
   * The version_info of a type: a hash of every resource's name and version, identical on every
   * replica for the same catalog.
   */
  typeVersion(type: XdsType): string {
    let version = this.typeVersions.get(type);
    if (version === undefined) {
      const hash = createHash('sha256');
      for (const resource of this.all(type)) hash.update(`${resource.name}\n${resource.version}\n`);
      version = hash.digest('hex').slice(0, 16);
      this.typeVersions.set(type, version);
    }
    return version;
  }
}

export interface TypeChanges {
  /** Canonical names added or whose content changed. */
  readonly updated: ReadonlySet<string>;
  /** Canonical names that no longer exist. */
  readonly removed: ReadonlySet<string>;
}

export type ChangeSet = ReadonlyMap<XdsType, TypeChanges>;

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
