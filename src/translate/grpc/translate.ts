// Catalog → ResourceSet for proxyless gRPC clients. Pure and deterministic: the same catalog
// gives the same resources (and bytes) on every replica.
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type XdsType } from '../../proto/xds-types';
import type { Catalog, ServiceCatalog } from '../../registry/catalog';
import { indexResources, type Resource, type ResourceAlias, type ResourceSet } from '../resource-set';
import { listenerName, serviceOfListenerAlias } from '../resource-names';
import { planRoutes, selectedCallerRoutes } from '../route-plan';
import { SelectionMemo, viewSelections, type View } from '../view';
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
}

const DEFAULT_OPTIONS: GrpcTranslateOptions = { flavour: 'grpc', ringHash: true };

// A ServiceCatalog is immutable and shared between catalogs while the service is unchanged, so
// its translation is too: a catalog change costs work only for the services it touched.
const translated = new WeakMap<ServiceCatalog, ServiceResources>();
const translatedWithoutRingHash = new WeakMap<ServiceCatalog, ServiceResources>();
/** Route configurations for clients that get some of the service's caller routes, by selection. */
const callerRoutes = new SelectionMemo<Resource>();
const callerRoutesWithoutRingHash = new SelectionMemo<Resource>();

/**
 * A service's resources for gRPC clients that get the caller routes `selected` (policy indices;
 * see view.ts). Only the route configuration depends on them.
 */
export function translateServiceForGrpc(
  service: ServiceCatalog,
  options: GrpcTranslateOptions = DEFAULT_OPTIONS,
  selected: readonly number[] = [],
): ServiceResources {
  // Only ring_hash services differ without ring hash; the others share one translation.
  const downgrade = !options.ringHash && service.policy.lbPolicy === 'ring_hash';
  const cache = downgrade ? translatedWithoutRingHash : translated;
  let resources = cache.get(service);
  if (resources === undefined) {
    resources = buildServiceResources(downgrade ? withoutRingHash(service) : service);
    cache.set(service, resources);
  }
  if (selected.length === 0) return resources;
  const route = (downgrade ? callerRoutesWithoutRingHash : callerRoutes).get(service, selected, () =>
    routeResource(downgrade ? withoutRingHash(service) : service, selected),
  );
  return { ...resources, routes: [route] };
}

function withoutRingHash(service: ServiceCatalog): ServiceCatalog {
  return { ...service, policy: { ...service.policy, lbPolicy: 'round_robin', hashHeader: undefined } };
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
      message: grpcCluster(cluster.name, policy.lbPolicy),
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
  return viewSelections(catalog, view).flatMap(
    ({ service, selected }) => translateServiceForGrpc(service, options, selected).routes,
  );
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
      const resources = translateServiceForGrpc(service, options, selected);
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
