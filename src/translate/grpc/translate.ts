// Catalog → ResourceSet for proxyless gRPC clients. Pure and deterministic: the same catalog
// gives the same resources (and bytes) on every replica.
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type XdsType } from '../../proto/xds-types';
import type { Catalog, ServiceCatalog } from '../../registry/catalog';
import { indexResources, type Resource, type ResourceAlias, type ResourceSet } from '../resource-set';
import { listenerName, serviceOfListenerAlias } from '../resource-names';
import { planRoutes } from '../route-plan';
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

export function translateServiceForGrpc(
  service: ServiceCatalog,
  options: GrpcTranslateOptions = DEFAULT_OPTIONS,
): ServiceResources {
  // Only ring_hash services differ without ring hash; the others share one translation.
  const downgrade = !options.ringHash && service.policy.lbPolicy === 'ring_hash';
  const cache = downgrade ? translatedWithoutRingHash : translated;
  let resources = cache.get(service);
  if (resources === undefined) {
    resources = buildServiceResources(
      downgrade
        ? { ...service, policy: { ...service.policy, lbPolicy: 'round_robin', hashHeader: undefined } }
        : service,
    );
    cache.set(service, resources);
  }
  return resources;
}

function buildServiceResources(service: ServiceCatalog): ServiceResources {
  const { name, policy } = service;
  const clusters = serviceClusters(service);
  return {
    listeners: [
      { name: listenerName(name), type: LISTENER, message: grpcListener(listenerName(name), name) },
    ],
    routes: [{ name, type: ROUTE, message: grpcRouteConfiguration(name, planRoutes(service)) }],
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

export function translateForGrpc(
  catalog: Catalog,
  options: GrpcTranslateOptions = DEFAULT_OPTIONS,
): ResourceSet {
  const byType = indexResources(
    [...catalog.services.values()].flatMap((service) => {
      const resources = translateServiceForGrpc(service, options);
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
