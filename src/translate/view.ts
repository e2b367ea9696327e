// Views (design: "Per-client views"): everything about a client that can change what it is sent.
// Two clients with the same view get the same resources, byte for byte, on every replica.
//
// - A `Client` is what a stream declares about itself: its flavour and all its caller labels.
// - A `View` keeps only what some policy of the catalog reads: the flavour, and the caller labels
//   whose keys a caller route mentions. A label no policy reads splits nothing.
import type { Catalog, ServiceCatalog } from '../registry/catalog';
import type { CallerLabels } from './caller-labels';
import type { Flavour } from './flavour';
import { ENDPOINT } from '../proto/xds-types';
import type { Instance } from '../registry/instance';
import type { RoutingPolicy } from '../registry/policy';
import { builtOnRead, type Resource } from './resource-set';
import { selectedCallerRoutes, versionsWithInstances } from './route-plan';
import { serviceClusters, type ServiceCluster } from './service-clusters';

export interface Client {
  readonly flavour: Flavour;
  readonly labels: CallerLabels;
}

export interface View {
  readonly flavour: Flavour;
  /** The client's labels that some policy reads, sorted by key. */
  readonly labels: CallerLabels;
  /** Canonical: equal keys, equal resources. */
  readonly key: string;
}

const NO_LABELS: CallerLabels = new Map();

/** A key naming a client by everything it declared (streams are grouped by it). */
export function clientKey(client: Client): string {
  return labelledKey(client.flavour, client.labels);
}

function labelledKey(flavour: Flavour, labels: CallerLabels): string {
  if (labels.size === 0) return flavour;
  // JSON keeps any byte of a label unambiguous; labels are already sorted.
  return `${flavour} ${JSON.stringify([...labels])}`;
}

/** The view of a client that declares nothing but its flavour: what most clients get. */
export function plainView(flavour: Flavour): View {
  return { flavour, labels: NO_LABELS, key: flavour };
}

export interface CallerRouting {
  /** Label keys some caller route reads, sorted. */
  readonly keys: readonly string[];
  /** Services whose policy has caller routes, by name order. */
  readonly services: readonly ServiceCatalog[];
  /**
   * Changes when anything caller-routed gRPC route configurations depend on does (a policy, or
   * the versions of a service with caller routes); equal signatures, equal overrides per view.
   */
  readonly signature: string;
}

const callerRoutings = new WeakMap<Catalog, CallerRouting>();

/** Which services route on the caller, and on which labels; once per catalog. */
export function callerRouting(catalog: Catalog): CallerRouting {
  let routing = callerRoutings.get(catalog);
  if (routing === undefined) {
    const keys = new Set<string>();
    const services: ServiceCatalog[] = [];
    for (const service of catalog.callerRouted.values()) {
      services.push(service);
      for (const key of service.policy.callerKeys) keys.add(key);
    }
    routing = {
      keys: [...keys].sort(),
      services,
      // Zone affinity depends on the instances themselves: the service object stands for them.
      signature: services
        .map(
          (service) =>
            `${policyId(service.policy)} ${routeInputs(service)}${service.policy.zoneAffinity ? ` ${serviceId(service)}` : ''}`,
        )
        .join('\n'),
    };
    callerRoutings.set(catalog, routing);
  }
  return routing;
}

/** The view of a client under a catalog's policies. Pure. */
export function viewOf(client: Client, catalog: Catalog): View {
  const { keys } = callerRouting(catalog);
  if (keys.length === 0 || client.labels.size === 0) return plainView(client.flavour);
  const labels = new Map<string, string>();
  for (const key of keys) {
    const value = client.labels.get(key);
    if (value !== undefined) labels.set(key, value);
  }
  return labels.size === 0
    ? plainView(client.flavour)
    : { flavour: client.flavour, labels, key: labelledKey(client.flavour, labels) };
}

/**
 * The zone whose localities a view gets at priority 0 for this service's endpoints (contract
 * §10), when its policy asks for zone affinity and the client has a zone.
 */
export function affinityZone(service: ServiceCatalog, view: View | undefined): string | undefined {
  if (!service.policy.zoneAffinity || view === undefined) return undefined;
  const zone = view.labels.get('zone');
  return zone === undefined || zone === '' ? undefined : zone;
}

/**
 * Whether a cluster's endpoints differ for a client in `zone`: the zone has a serving instance of
 * it, and some instance is elsewhere. Otherwise every locality stays at priority 0.
 */
export function prefersZone(members: readonly Instance[], zone: string): boolean {
  return (
    members.some((i) => i.zone === zone && i.status === 'serving') && members.some((i) => i.zone !== zone)
  );
}

/**
 * A service's endpoints for clients in a zone (contract §10): per cluster, the CLA `render` gives
 * when the zone is preferred, else the plain one. Memoised per service object and `key` (the
 * zone, and what else the rendering depends on).
 */
export class ZonedEndpoints {
  private readonly memo = new WeakMap<ServiceCatalog, Map<string, readonly Resource[]>>();

  get(
    service: ServiceCatalog,
    key: string,
    zone: string,
    plain: readonly Resource[],
    render: (cluster: ServiceCluster) => object,
  ): readonly Resource[] {
    let byKey = this.memo.get(service);
    if (byKey === undefined) this.memo.set(service, (byKey = new Map<string, readonly Resource[]>()));
    let endpoints = byKey.get(key);
    if (endpoints === undefined) {
      // serviceClusters gives the clusters in the order every translation makes them.
      endpoints = serviceClusters(service).map((cluster, i) =>
        prefersZone(cluster.members, zone)
          ? builtOnRead(cluster.name, ENDPOINT, () => render(cluster))
          : plain[i],
      );
      byKey.set(key, endpoints);
    }
    return endpoints;
  }
}

/** Services whose resources may differ for a view: those with caller routes it gets or zone affinity. */
export function viewServices(
  catalog: Catalog,
  view: View,
): readonly {
  readonly service: ServiceCatalog;
  readonly selected: readonly number[];
  readonly zone?: string;
}[] {
  if (view.labels.size === 0) return [];
  const result: { service: ServiceCatalog; selected: readonly number[]; zone?: string }[] = [];
  for (const service of callerRouting(catalog).services) {
    const selected = selectionOf(service.policy, view);
    const zone = affinityZone(service, view);
    if (selected.length > 0 || zone !== undefined)
      result.push({ service, selected, ...(zone !== undefined && { zone }) });
  }
  return result;
}

/** Whether a view gets caller routes of some service (its routes differ from the plain view's). */
export function hasCallerRoutes(catalog: Catalog, view: View): boolean {
  return viewServices(catalog, view).some(({ selected }) => selected.length > 0);
}

/** Numbers naming objects while they live: equal numbers, the same object. */
function identities<T extends object>(): (object: T) => number {
  const ids = new WeakMap<T, number>();
  let last = 0;
  return (object) => {
    let id = ids.get(object);
    if (id === undefined) ids.set(object, (id = ++last));
    return id;
  };
}

/** A policy object lives while its key's value is unchanged. */
const policyId = identities<RoutingPolicy>();
/** A changed service is a new object. */
const serviceId = identities<ServiceCatalog>();

const versionSignatures = new WeakMap<ServiceCatalog, string>();

/** What a service's routes depend on besides its policy: its name and the versions it has. */
function routeInputs(service: ServiceCatalog): string {
  let signature = versionSignatures.get(service);
  if (signature === undefined) {
    signature = `${service.name}\n${versionsWithInstances(service).join(',')}`;
    versionSignatures.set(service, signature);
  }
  return signature;
}

/**
 * Route configurations (or virtual hosts) of a service for clients that get its caller routes
 * `selected`, memoised on what routes depend on: the policy object (kept while its etcd value is
 * unchanged), the service's name and versions, and the selection. An instance coming or going
 * without changing the versions reuses them, so views cost nothing for it.
 *
 * Every service without a policy shares DEFAULT_POLICY, so entries are kept per service name under
 * the policy and bounded per name (versions and selections come and go), not per policy: a bound
 * per policy would evict every service's routes over and over once a catalog has more services.
 */
export class SelectionMemo<T> {
  private readonly byPolicy = new WeakMap<RoutingPolicy, Map<string, Map<string, T>>>();

  get(service: ServiceCatalog, selected: readonly number[], build: () => T): T {
    let byName = this.byPolicy.get(service.policy);
    if (byName === undefined) this.byPolicy.set(service.policy, (byName = new Map<string, Map<string, T>>()));
    let built = byName.get(service.name);
    if (built === undefined) {
      // Services come and go under a shared policy: keep the names of one policy bounded.
      if (byName.size >= MEMO_NAMES) byName.clear();
      byName.set(service.name, (built = new Map<string, T>()));
    }
    const key = `${routeInputs(service)}\n${selected.join(',')}`;
    let value = built.get(key);
    if (value === undefined) {
      if (built.size >= MEMO_PER_NAME) built.clear();
      built.set(key, (value = build()));
    }
    return value;
  }
}

/** Service names a SelectionMemo keeps per policy (more than a catalog holds) … */
const MEMO_NAMES = 2_000_000;
/** … and entries (versions × selections) per service. */
const MEMO_PER_NAME = 1_000;

const selections = new WeakMap<RoutingPolicy, Map<string, readonly number[]>>();

/** selectedCallerRoutes, memoised per policy object and view. */
function selectionOf(policy: RoutingPolicy, view: View): readonly number[] {
  let byView = selections.get(policy);
  if (byView === undefined) selections.set(policy, (byView = new Map<string, readonly number[]>()));
  let selected = byView.get(view.key);
  if (selected === undefined) {
    if (byView.size >= 10_000) byView.clear();
    byView.set(view.key, (selected = selectedCallerRoutes(policy, view.labels)));
  }
  return selected;
}
