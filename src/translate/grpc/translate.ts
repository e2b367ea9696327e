// Catalog → ResourceSet for proxyless gRPC clients. Pure and deterministic: the same catalog
// gives the same resources (and bytes) on every replica.
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type XdsType } from '../../proto/xds-types';
import type { Catalog, ServiceCatalog } from '../../registry/catalog';
import type { RoutingPolicy } from '../../registry/policy';
import { PersistentMap } from '../../persistent-map';
import {
  builtOnRead,
  indexResources,
  replaceServices,
  type Resource,
  type ResourceAlias,
  type ResourceSet,
  type TouchedNames,
} from '../resource-set';
import { listenerName, serviceOfListenerAlias } from '../resource-names';
import { planRoutes, selectedCallerRoutes } from '../route-plan';
import { affinityZone, SelectionMemo, viewServices, ZonedEndpoints, type View } from '../view';
import { serviceClusters } from '../service-clusters';
import { GRPC_CAPABILITIES, type GrpcCapabilities } from '../flavour';
import { grpcCluster } from './cluster';
import { encodeGrpcClusterLoadAssignment, grpcClusterLoadAssignment } from './cluster-load-assignment';
import { encodeGrpcListener, grpcListener } from './listener';
import { grpcRouteConfiguration } from './route-configuration';

export interface ServiceResources {
  readonly listeners: readonly Resource[];
  readonly routes: readonly Resource[];
  readonly clusters: readonly Resource[];
  readonly endpoints: readonly Resource[];
}

/** A gRPC flavour and what its clients can use (flavour.ts). */
export interface GrpcTranslateOptions extends GrpcCapabilities {
  readonly flavour: string;
}

const DEFAULT_OPTIONS: GrpcTranslateOptions = { flavour: 'grpc', ...GRPC_CAPABILITIES.grpc };

// A ServiceCatalog is immutable and shared between catalogs while the service is unchanged, so
// its translation is too: a catalog change costs work only for the services it touched. One memo
// per set of downgrades a service needs for a flavour ('' for none: most services, every flavour).
const translated = new Map<string, WeakMap<ServiceCatalog, ServiceResources>>();
/**
 * Route configurations per downgrade key and selection of caller routes (none: the plain one),
 * memoised on what they depend on (the policy object, the service's name and versions): an
 * instance coming or going reuses them, and their encodings.
 */
const routeMemos = new Map<string, SelectionMemo<Resource>>();

/**
 * A service's resources for gRPC clients that get the caller routes `selected` (policy indices;
 * see view.ts). Only the route configuration depends on them.
 */
export function translateServiceForGrpc(
  service: ServiceCatalog,
  options: GrpcTranslateOptions = DEFAULT_OPTIONS,
  selected: readonly number[] = [],
  /** The caller's zone when the policy has zone affinity (contract §10). */
  zone?: string,
): ServiceResources {
  // Only services that use what differs between flavours differ; the others share one translation.
  const { lbPolicy } = service.policy;
  const dropRingHash = !options.ringHash && lbPolicy === 'ring_hash';
  const dropTimeouts = !options.routeTimeouts && hasTimeouts(service);
  const leastRequest = options.leastRequest && lbPolicy === 'least_request';
  const key = `${dropRingHash ? 'r' : ''}${dropTimeouts ? 't' : ''}${leastRequest ? 'l' : ''}`;
  const served = (): ServiceCatalog => downgraded(service, dropRingHash, dropTimeouts);
  let memo = translated.get(key);
  if (memo === undefined) translated.set(key, (memo = new WeakMap()));
  let resources = memo.get(service);
  if (resources === undefined) {
    // Timeouts live in routes alone, the LB policy in clusters alone: a flavour that differs in one
    // of them shares the other resources' objects (and encodings) with the flavour that does not.
    if (dropTimeouts)
      resources = {
        ...translateServiceForGrpc(service, { ...options, routeTimeouts: true }),
        routes: [routeResource(served(), [])],
      };
    else if (leastRequest) {
      const roundRobin = translateServiceForGrpc(service, { ...options, leastRequest: false });
      const names = roundRobin.clusters.map((cluster) => cluster.name);
      resources = { ...roundRobin, clusters: clusterResources(served().policy, names, true) };
    } else resources = buildServiceResources(served(), () => memoRoute(key, service, [], served));
    memo.set(service, resources);
  }
  let result = resources;
  if (selected.length > 0) result = { ...result, routes: [memoRoute(key, service, selected, served)] };
  if (zone !== undefined) {
    // Endpoints differ between flavours only with ring hash (their weights); share the rest.
    const endpoints = zoned.get(
      service,
      `${dropRingHash ? 'r' : ''}\n${zone}`,
      zone,
      resources.endpoints,
      (cluster) => grpcClusterLoadAssignment(cluster.name, cluster.members, served().policy.lbPolicy, zone),
    );
    result = { ...result, endpoints };
  }
  return result;
}

/** Endpoints for clients in a zone, per downgrade key and zone. */
const zoned = new ZonedEndpoints();

function hasTimeouts(service: ServiceCatalog): boolean {
  const { policy } = service;
  return policy.timeoutMs !== undefined || policy.routes.some((route) => route.timeoutMs !== undefined);
}

/** The service as a client without ring hash, or without timeouts, is to be served it. */
function downgraded(service: ServiceCatalog, dropRingHash: boolean, dropTimeouts: boolean): ServiceCatalog {
  if (!dropRingHash && !dropTimeouts) return service;
  let policy = service.policy;
  if (dropRingHash) policy = { ...policy, lbPolicy: 'round_robin', hashHeader: undefined };
  if (dropTimeouts)
    policy = {
      ...policy,
      timeoutMs: undefined,
      routes: policy.routes.map((route) => ({ ...route, timeoutMs: undefined })),
    };
  return { ...service, policy };
}

function memoRoute(
  key: string,
  service: ServiceCatalog,
  selected: readonly number[],
  served: () => ServiceCatalog,
): Resource {
  let memo = routeMemos.get(key);
  if (memo === undefined) routeMemos.set(key, (memo = new SelectionMemo<Resource>()));
  return memo.get(service, selected, () => routeResource(served(), selected));
}

/** Listeners by service name: they depend on nothing else. */
const listeners = new Map<string, Resource>();

function listenerResource(name: string): Resource {
  let listener = listeners.get(name);
  if (listener === undefined) {
    // Services come and go: keep the memo bounded.
    if (listeners.size >= 1_000_000) listeners.clear();
    listener = builtOnRead(
      listenerName(name),
      LISTENER,
      () => grpcListener(listenerName(name), name),
      () => encodeGrpcListener(listenerName(name), name),
    );
    listeners.set(name, listener);
  }
  return listener;
}

/** Clusters by the policy object they render and their name (and LB kind): not by instances. */
const clusterMemos = new WeakMap<RoutingPolicy, Map<string, Resource>>();

function routeResource(service: ServiceCatalog, selected: readonly number[]): Resource {
  return builtOnRead(service.name, ROUTE, () =>
    grpcRouteConfiguration(service.name, planRoutes(service, selected)),
  );
}

/** Clusters `names` under `policy`; `leastRequest`: LEAST_REQUEST ones, for clients that can use them. */
function clusterResources(
  policy: RoutingPolicy,
  names: readonly string[],
  leastRequest: boolean,
): Resource[] {
  let memo = clusterMemos.get(policy);
  if (memo === undefined) clusterMemos.set(policy, (memo = new Map<string, Resource>()));
  return names.map((name) => {
    const key = `${leastRequest ? 'l' : ''}\n${name}`;
    let cluster = memo.get(key);
    if (cluster === undefined) {
      if (memo.size >= 1_000_000) memo.clear();
      cluster = builtOnRead(name, CLUSTER, () => grpcCluster(name, policy, leastRequest));
      memo.set(key, cluster);
    }
    return cluster;
  });
}

/** A service's resources; only its endpoints are new objects when only its instances changed. */
function buildServiceResources(service: ServiceCatalog, route: () => Resource): ServiceResources {
  const { name, policy } = service;
  const clusters = serviceClusters(service);
  return {
    listeners: [listenerResource(name)],
    routes: [route()],
    clusters: clusterResources(
      policy,
      clusters.map((cluster) => cluster.name),
      false,
    ),
    endpoints: clusters.map(({ name, members }) =>
      builtOnRead(
        name,
        ENDPOINT,
        () => grpcClusterLoadAssignment(name, members, policy.lbPolicy),
        () => encodeGrpcClusterLoadAssignment(name, members, policy.lbPolicy),
      ),
    ),
  };
}

/** Resources of a gRPC view that differ from its flavour's plain view: caller-routed RDS only. */
export function grpcViewOverrides(
  catalog: Catalog,
  view: View,
  options: GrpcTranslateOptions = DEFAULT_OPTIONS,
): Resource[] {
  return viewServices(catalog, view).flatMap(({ service, selected, zone }) => {
    const resources = translateServiceForGrpc(service, options, selected, zone);
    const plain = translateServiceForGrpc(service, options);
    return [
      ...(selected.length > 0 ? resources.routes : []),
      ...resources.endpoints.filter((endpoint, i) => endpoint !== plain.endpoints[i]),
    ];
  });
}

export function translateForGrpc(
  catalog: Catalog,
  options: GrpcTranslateOptions = DEFAULT_OPTIONS,
  view?: View,
): ResourceSet {
  const labels = view?.labels;
  const byService: [string, readonly Resource[]][] = [];
  for (const service of catalog.services.values()) {
    const selected = labels === undefined ? [] : selectedCallerRoutes(service.policy, labels);
    const resources = translateServiceForGrpc(service, options, selected, affinityZone(service, view));
    byService.push([service.name, serviceResourceList(resources)]);
  }
  return grpcResourceSet(
    catalog,
    options,
    indexResources(byService.flatMap(([, resources]) => resources)),
    PersistentMap.from(byService),
  );
}

/**
 * The plain-view translation of `catalog` from `previous`, the one of the catalog it was built
 * from, when only the services named in `changed` differ: only those are translated and indexed.
 * Equal to translateForGrpc(catalog, options); returns which names it touched.
 */
export function updateForGrpc(
  previous: ResourceSet,
  catalog: Catalog,
  changed: ReadonlySet<string>,
  options: GrpcTranslateOptions = DEFAULT_OPTIONS,
): { resources: ResourceSet; touched: TouchedNames } {
  const replaced = new Map<string, readonly Resource[]>();
  for (const name of changed) {
    const service = catalog.services.get(name);
    replaced.set(
      name,
      service === undefined ? [] : serviceResourceList(translateServiceForGrpc(service, options)),
    );
  }
  const { byType, byService, touched } = replaceServices(previous, replaced);
  return { resources: grpcResourceSet(catalog, options, byType, byService), touched };
}

function serviceResourceList(resources: ServiceResources): readonly Resource[] {
  return [...resources.listeners, ...resources.routes, ...resources.clusters, ...resources.endpoints];
}

function grpcResourceSet(
  catalog: Catalog,
  options: GrpcTranslateOptions,
  byType: ResourceSet['byType'],
  byService: PersistentMap<readonly Resource[]>,
): ResourceSet {
  const listeners = byType.get(LISTENER)!;
  return {
    flavour: options.flavour,
    revision: catalog.revision,
    byType,
    byService,
    alias(type: XdsType, name: string): ResourceAlias | undefined {
      if (type !== LISTENER) return undefined;
      const service = serviceOfListenerAlias(name);
      if (service === undefined || !listeners.has(listenerName(service))) return undefined;
      return {
        canonical: listenerName(service),
        build: () => ({ name, type: LISTENER, message: grpcListener(name, service) }),
      };
    },
  };
}
