// Catalog → ResourceSet for proxyless gRPC clients. Pure and deterministic: the same catalog
// gives the same resources (and bytes) on every replica.
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type XdsType } from '../../proto/xds-types';
import type { Catalog, ServiceCatalog } from '../../registry/catalog';
import { indexResources, type Resource, type ResourceAlias, type ResourceSet } from '../resource-set';
import { listenerName, serviceOfListenerAlias } from '../resource-names';
import { planRoutes, selectedCallerRoutes } from '../route-plan';
import { affinityZone, SelectionMemo, viewServices, ZonedEndpoints, type View } from '../view';
import { serviceClusters } from '../service-clusters';
import { grpcCluster } from './cluster';
import { grpcClusterLoadAssignment } from './cluster-load-assignment';
import { grpcListener } from './listener';
import { grpcRouteConfiguration } from './route-configuration';

export interface ServiceResources {
  readonly listeners: readonly Resource[];
  readonly routes: readonly Resource[];
  readonly clusters: readonly Resource[];
  readonly endpoints: readonly Resource[];
}

export interface GrpcTranslateOptions {
  readonly flavour: string;
  /** False for clients that cannot use ring_hash clusters: they get round robin instead. */
  readonly ringHash: boolean;
  /** False for clients that mis-apply route timeouts (max_stream_duration): they get none. */
  readonly timeouts: boolean;
}

const DEFAULT_OPTIONS: GrpcTranslateOptions = { flavour: 'grpc', ringHash: true, timeouts: true };

// A ServiceCatalog is immutable and shared between catalogs while the service is unchanged, so
// its translation is too: a catalog change costs work only for the services it touched. One memo
// per set of downgrades a service needs for a flavour ('' for none: most services, every flavour).
const translated = new Map<string, WeakMap<ServiceCatalog, ServiceResources>>();
/** Route configurations for clients that get some of the service's caller routes, by selection. */
const callerRoutes = new Map<string, SelectionMemo<Resource>>();

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
  // Only services that use what the flavour lacks differ; the others share one translation.
  const dropRingHash = !options.ringHash && service.policy.lbPolicy === 'ring_hash';
  const dropTimeouts = !options.timeouts && hasTimeouts(service);
  const key = `${dropRingHash ? 'r' : ''}${dropTimeouts ? 't' : ''}`;
  const served = (): ServiceCatalog => downgraded(service, dropRingHash, dropTimeouts);
  let memo = translated.get(key);
  if (memo === undefined) translated.set(key, (memo = new WeakMap()));
  let resources = memo.get(service);
  if (resources === undefined) {
    // Timeouts live in routes alone: without them, the other resources are the same objects.
    resources = dropTimeouts
      ? {
          ...translateServiceForGrpc(service, { ...options, timeouts: true }),
          routes: [routeResource(served(), [])],
        }
      : buildServiceResources(served());
    memo.set(service, resources);
  }
  let result = resources;
  if (selected.length > 0) {
    let routes = callerRoutes.get(key);
    if (routes === undefined) callerRoutes.set(key, (routes = new SelectionMemo<Resource>()));
    const route = routes.get(service, selected, () => routeResource(served(), selected));
    result = { ...result, routes: [route] };
  }
  if (zone !== undefined) {
    const { lbPolicy } = served().policy;
    const endpoints = zoned.get(service, `${key}\n${zone}`, zone, resources.endpoints, (cluster) =>
      grpcClusterLoadAssignment(cluster.name, cluster.members, lbPolicy, zone),
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

function routeResource(service: ServiceCatalog, selected: readonly number[]): Resource {
  return {
    name: service.name,
    type: ROUTE,
    message: grpcRouteConfiguration(service.name, planRoutes(service, selected)),
  };
}

function buildServiceResources(service: ServiceCatalog): ServiceResources {
  const { name, policy } = service;
  const clusters = serviceClusters(service);
  return {
    listeners: [
      { name: listenerName(name), type: LISTENER, message: grpcListener(listenerName(name), name) },
    ],
    routes: [routeResource(service, [])],
    clusters: clusters.map((cluster) => ({
      name: cluster.name,
      type: CLUSTER,
      message: grpcCluster(cluster.name, policy),
    })),
    endpoints: clusters.map((cluster) => ({
      name: cluster.name,
      type: ENDPOINT,
      message: grpcClusterLoadAssignment(cluster.name, cluster.members, policy.lbPolicy),
    })),
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
  const byType = indexResources(
    [...catalog.services.values()].flatMap((service) => {
      const selected = labels === undefined ? [] : selectedCallerRoutes(service.policy, labels);
      const resources = translateServiceForGrpc(service, options, selected, affinityZone(service, view));
      return [...resources.listeners, ...resources.routes, ...resources.clusters, ...resources.endpoints];
    }),
  );
  const listeners = byType.get(LISTENER)!;
  return {
    flavour: options.flavour,
    revision: catalog.revision,
    byType,
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
