// The Catalog: an immutable view of every registered service at one etcd revision, and the
// builder that keeps it up to date from etcd events while sharing unchanged services.
import type { Problem } from '../errors';
import { PersistentMap } from '../persistent-map';
import { compareStrings, sortedByKey } from '../stable-order';
import { formatSocketAddress } from './address';
import { parseInstance, type Instance } from './instance';
import { DEFAULT_POLICY, parsePolicy, policyService, type RoutingPolicy } from './policy';

export interface ShadowedInstance {
  readonly key: string;
  readonly address: string;
  /** The key that registered the same address first (in key order) and is used instead. */
  readonly shadowedBy: string;
}

export interface ServiceCatalog {
  readonly name: string;
  /** Sorted by etcd key; addresses are distinct (clients reject duplicate endpoints). */
  readonly instances: readonly Instance[];
  /** Registrations of this service whose address an earlier key already registered. */
  readonly shadowed: readonly ShadowedInstance[];
  /** The service's policy, or DEFAULT_POLICY when it has none or its policy is invalid. */
  readonly policy: RoutingPolicy;
}

export interface Rejection {
  readonly kind: 'registration' | 'policy';
  readonly problem: Problem;
}

export interface Catalog {
  /** Identifies this catalog among every catalog this process builds. */
  readonly id: number;
  /** The etcd revision this catalog reflects. */
  readonly revision: number;
  /** Sorted by service name. A service exists while it has an instance or a valid policy. */
  readonly services: PersistentMap<ServiceCatalog>;
  /** The services whose policy reads caller labels (callerKeys), sorted by name. */
  readonly callerRouted: PersistentMap<ServiceCatalog>;
  /**
   * How this catalog differs from the one it was built from (catalog `from`): the names of the
   * services added, removed or changed. Absent for a first catalog. Later stages use it to do
   * work only for what changed.
   */
  readonly changes?: CatalogChanges;
  /** Keys whose value could not be used, with why; sorted by key. */
  readonly rejected: ReadonlyMap<string, Rejection>;
  readonly instanceCount: number;
  /** When the newest change in it was seen (performance.now()); for latency metrics only. */
  readonly observedAt?: number;
}

export interface CatalogChanges {
  /** The id of the catalog this one was built from. */
  readonly from: number;
  readonly services: ReadonlySet<string>;
}

let lastCatalogId = 0;

export const EMPTY_CATALOG: Catalog = {
  id: 0,
  revision: 0,
  services: PersistentMap.empty(),
  callerRouted: PersistentMap.empty(),
  rejected: new Map(),
  instanceCount: 0,
};

/** What one applied change did, for logs and metrics. */
export type ChangeOutcome =
  { kind: 'accepted' } | { kind: 'rejected'; problem: Problem } | { kind: 'removed' };

const byKey = (a: Instance, b: Instance): number => compareStrings(a.key, b.key);

function serviceCatalog(
  name: string,
  registered: ReadonlyMap<string, Instance> | undefined,
  policy: RoutingPolicy,
): ServiceCatalog {
  const instances: Instance[] = [];
  const shadowed: ShadowedInstance[] = [];
  const firstKeyByAddress = new Map<string, string>();
  for (const instance of [...(registered?.values() ?? [])].sort(byKey)) {
    const address = formatSocketAddress(instance.address);
    const first = firstKeyByAddress.get(address);
    if (first === undefined) {
      firstKeyByAddress.set(address, instance.key);
      instances.push(instance);
    } else {
      shadowed.push({ key: instance.key, address, shadowedBy: first });
    }
  }
  return { name, instances, shadowed, policy };
}

/**
 * Mutable state behind successive Catalogs. Each `snapshot()` rebuilds only the services touched
 * since the previous one; untouched ServiceCatalog objects are shared, so later stages can
 * memoise on their identity.
 */
export class CatalogBuilder {
  private readonly instancesByKey = new Map<string, Instance>();
  private readonly instancesByService = new Map<string, Map<string, Instance>>();
  private readonly policiesByService = new Map<string, RoutingPolicy>();
  private readonly policyKeyService = new Map<string, string>();
  private readonly rejected = new Map<string, Rejection>();
  private readonly dirty = new Set<string>();
  private rejectedDirty = false;
  private previous: Catalog = EMPTY_CATALOG;

  constructor(private readonly policyPrefix: string) {}

  /** Forgets everything (before a full re-list). */
  clear(): void {
    for (const service of this.instancesByService.keys()) this.dirty.add(service);
    for (const service of this.policiesByService.keys()) this.dirty.add(service);
    this.instancesByKey.clear();
    this.instancesByService.clear();
    this.policiesByService.clear();
    this.policyKeyService.clear();
    this.rejected.clear();
    this.rejectedDirty = true;
  }

  putRegistration(key: string, value: Uint8Array | string): ChangeOutcome {
    this.removeRegistration(key);
    const parsed = parseInstance(key, value);
    if (!parsed.ok) {
      this.reject(key, { kind: 'registration', problem: parsed.problem });
      return { kind: 'rejected', problem: parsed.problem };
    }
    const instance = parsed.value;
    this.instancesByKey.set(key, instance);
    let instances = this.instancesByService.get(instance.service);
    if (instances === undefined) {
      instances = new Map();
      this.instancesByService.set(instance.service, instances);
    }
    instances.set(key, instance);
    this.dirty.add(instance.service);
    return { kind: 'accepted' };
  }

  deleteRegistration(key: string): ChangeOutcome {
    this.removeRegistration(key);
    return { kind: 'removed' };
  }

  putPolicy(key: string, value: Uint8Array | string): ChangeOutcome {
    this.removePolicy(key);
    const service = policyService(this.policyPrefix, key);
    const parsed = service.ok ? parsePolicy(key, value) : service;
    if (!parsed.ok) {
      this.reject(key, { kind: 'policy', problem: parsed.problem });
      return { kind: 'rejected', problem: parsed.problem };
    }
    const name = (service as { ok: true; value: string }).value;
    this.policiesByService.set(name, parsed.value);
    this.policyKeyService.set(key, name);
    this.dirty.add(name);
    return { kind: 'accepted' };
  }

  deletePolicy(key: string): ChangeOutcome {
    this.removePolicy(key);
    return { kind: 'removed' };
  }

  /** An immutable catalog of the current state. */
  snapshot(revision: number, observedAt?: number): Catalog {
    const previous = this.previous;
    if (this.dirty.size === 0 && !this.rejectedDirty) {
      if (revision === previous.revision && observedAt === previous.observedAt) return previous;
      this.previous = {
        ...previous,
        id: ++lastCatalogId,
        revision,
        observedAt,
        ...(previous === EMPTY_CATALOG
          ? {}
          : { changes: { from: previous.id, services: new Set<string>() } }),
      };
      return this.previous;
    }
    // Only the services touched since the previous catalog are built again; the maps share the
    // rest with it (persistent maps: this costs what changed, at any number of services).
    const updates: [string, ServiceCatalog | undefined][] = [];
    const routed: [string, ServiceCatalog | undefined][] = [];
    for (const name of this.dirty) {
      const instances = this.instancesByService.get(name);
      const policy = this.policiesByService.get(name);
      const service =
        (instances === undefined || instances.size === 0) && policy === undefined
          ? undefined
          : serviceCatalog(name, instances, policy ?? DEFAULT_POLICY);
      updates.push([name, service]);
      if (service !== undefined && service.policy.callerKeys.length > 0) routed.push([name, service]);
      else if (previous.callerRouted.has(name)) routed.push([name, undefined]);
    }
    const changed = new Set(this.dirty);
    this.dirty.clear();
    const rejected = this.rejectedDirty ? sortedByKey(this.rejected) : previous.rejected;
    this.rejectedDirty = false;
    this.previous = {
      id: ++lastCatalogId,
      revision,
      services: previous.services.with(updates),
      callerRouted: previous.callerRouted.with(routed),
      rejected,
      instanceCount: this.instancesByKey.size,
      observedAt,
      ...(previous === EMPTY_CATALOG ? {} : { changes: { from: previous.id, services: changed } }),
    };
    return this.previous;
  }

  private removeRegistration(key: string): void {
    if (this.rejected.get(key)?.kind === 'registration') {
      this.rejected.delete(key);
      this.rejectedDirty = true;
    }
    const old = this.instancesByKey.get(key);
    if (old === undefined) return;
    this.instancesByKey.delete(key);
    const instances = this.instancesByService.get(old.service);
    instances?.delete(key);
    if (instances?.size === 0) this.instancesByService.delete(old.service);
    this.dirty.add(old.service);
  }

  private removePolicy(key: string): void {
    if (this.rejected.get(key)?.kind === 'policy') {
      this.rejected.delete(key);
      this.rejectedDirty = true;
    }
    const service = this.policyKeyService.get(key);
    if (service === undefined) return;
    this.policyKeyService.delete(key);
    this.policiesByService.delete(service);
    this.dirty.add(service);
  }

  private reject(key: string, rejection: Rejection): void {
    this.rejected.set(key, rejection);
    this.rejectedDirty = true;
  }
}
