// ResourceSet: the xDS resources one client flavour should see for one Catalog.
import { PUSH_ORDER, type XdsType } from '../proto/xds-types';
import { sortedByKey } from '../stable-order';

export interface Resource {
  readonly name: string;
  readonly type: XdsType;
  /** The resource as a plain object of its proto message (snake_case fields). */
  readonly message: object;
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
  /** Resources by type, each map sorted by name. */
  readonly byType: ReadonlyMap<XdsType, ReadonlyMap<string, Resource>>;
  /** Resolves names that are not in `byType` but denote one that is, e.g. listener `app:50051`. */
  alias(type: XdsType, name: string): ResourceAlias | undefined;
}

/** Resources by type (every served type present), each map sorted by name. */
export function indexResources(resources: Iterable<Resource>): Map<XdsType, Map<string, Resource>> {
  const byType = new Map<XdsType, Map<string, Resource>>(PUSH_ORDER.map((type) => [type, new Map()]));
  for (const resource of resources) byType.get(resource.type)!.set(resource.name, resource);
  for (const [type, named] of byType) byType.set(type, sortedByKey(named));
  return byType;
}
