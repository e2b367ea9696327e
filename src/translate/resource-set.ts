// ResourceSet: the xDS resources one client flavour should see for one Catalog.
import { PersistentMap, type Update } from '../persistent-map';
import { PUSH_ORDER, type XdsType } from '../proto/xds-types';

export interface Resource {
  readonly name: string;
  readonly type: XdsType;
  /** The resource as a plain object of its proto message (snake_case fields). */
  readonly message: object;
}

/**
 * A resource whose message is built again each time it is read, and not kept. The snapshot keeps
 * each resource's encoding (encodeResource reads the message once per resource object), so
 * keeping its message as well would hold its whole object tree on the heap for nothing: about
 * ten objects per instance for endpoints, forty per service for routes. `build` must be pure,
 * over values that do not change.
 */
export function builtOnRead(
  name: string,
  type: XdsType,
  build: () => object,
  /** The message's encoding written directly: the bytes protobufjs gives for `build()`. */
  encodeMessage?: () => Uint8Array,
): Resource {
  return new BuiltOnRead(name, type, build, encodeMessage);
}

export class BuiltOnRead implements Resource {
  /**
   * What the snapshot cache derives from this resource once (its encoding), kept on the resource
   * rather than in a WeakMap: a million resources as WeakMap keys cost the garbage collector a
   * million ephemerons at every full collection.
   */
  derived: object | undefined = undefined;

  constructor(
    readonly name: string,
    readonly type: XdsType,
    private readonly build: () => object,
    readonly encodeMessage: (() => Uint8Array) | undefined,
  ) {}

  get message(): object {
    return this.build();
  }
}

export interface ResourceAlias {
  /** The resource this name stands for; when that one changes, so does the alias. */
  readonly canonical: string;
  readonly build: () => Resource;
}

export interface ResourceSet {
  readonly flavour: string;
  /** The etcd revision of the catalog this set was translated from. */
  readonly revision: number;
  /** Resources by type (every served type present), each iterated in name order. */
  readonly byType: ReadonlyMap<XdsType, PersistentMap<Resource>>;
  /**
   * The resources each service contributed, when every resource belongs to exactly one service
   * (gRPC translations): what lets a set be updated for a few changed services (updateResourceSet).
   */
  readonly byService?: PersistentMap<readonly Resource[]>;
  /** Resolves names that are not in `byType` but denote one that is, e.g. listener `app:50051`. */
  alias(type: XdsType, name: string): ResourceAlias | undefined;
}

/**
 * The names an update touched, per type: every name of a changed service whose resource is not
 * the same object as before (added, replaced or removed).
 */
export type TouchedNames = ReadonlyMap<XdsType, ReadonlySet<string>>;

/** Resources by type (every served type present). */
export function indexResources(resources: Iterable<Resource>): Map<XdsType, PersistentMap<Resource>> {
  const byType = new Map<XdsType, [string, Resource][]>(PUSH_ORDER.map((type) => [type, []]));
  for (const resource of resources) byType.get(resource.type)!.push([resource.name, resource]);
  return new Map(PUSH_ORDER.map((type) => [type, PersistentMap.from(byType.get(type)!)]));
}

/**
 * The per-type maps and per-service index of `previous` with the resources of the services in
 * `replaced` (name → its resources now; none when it is gone) in place of theirs. Costs what the
 * replaced services have and had, not the size of the set; a resource kept as the same object
 * (a service's listener, route and clusters when only its instances changed) costs a comparison.
 */
export function replaceServices(
  previous: Pick<ResourceSet, 'byType' | 'byService'>,
  replaced: ReadonlyMap<string, readonly Resource[]>,
): {
  byType: Map<XdsType, PersistentMap<Resource>>;
  byService: PersistentMap<readonly Resource[]>;
  touched: TouchedNames;
} {
  const previousByService = previous.byService ?? PersistentMap.empty();
  // Per type, name → its resource now (undefined: gone), for names whose resource changed.
  const updates = new Map<XdsType, Map<string, Resource | undefined>>(
    PUSH_ORDER.map((type) => [type, new Map()]),
  );
  const services: Update<readonly Resource[]>[] = [];
  for (const [service, resources] of replaced) {
    const old = previousByService.get(service) ?? [];
    const isNow = member(resources);
    const wasBefore = member(old);
    for (const resource of old)
      if (!isNow(resource)) updates.get(resource.type)!.set(resource.name, undefined);
    for (const resource of resources)
      if (!wasBefore(resource)) updates.get(resource.type)!.set(resource.name, resource);
    services.push([service, resources.length === 0 ? undefined : resources]);
  }
  const byType = new Map(
    PUSH_ORDER.map((type) => [type, previous.byType.get(type)!.with(updates.get(type)!)] as const),
  );
  const touched = new Map(PUSH_ORDER.map((type) => [type, new Set(updates.get(type)!.keys())] as const));
  return { byType, byService: previousByService.with(services), touched };
}

/** Membership in a service's resources: a scan for the usual few, a Set for many versions. */
function member(resources: readonly Resource[]): (resource: Resource) => boolean {
  if (resources.length <= 16) return (resource) => resources.includes(resource);
  const set = new Set(resources);
  return (resource) => set.has(resource);
}
