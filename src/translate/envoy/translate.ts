// Catalog → ResourceSet for Envoy: one socket listener, one RouteConfiguration with a virtual
// host per service, and the same clusters (by name and membership) as gRPC clients get.
import type { VirtualHost } from '../../generated/envoy/config/route/v3/VirtualHost';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../proto/xds-types';
import type { Catalog, ServiceCatalog } from '../../registry/catalog';
import { indexResources, type Resource, type ResourceSet } from '../resource-set';
import { planRoutes } from '../route-plan';
import { serviceClusters } from '../service-clusters';
import { envoyCluster } from './cluster';
import { envoyClusterLoadAssignment } from './cluster-load-assignment';
import {
  ENVOY_LISTENER_NAME,
  ENVOY_ROUTE_CONFIGURATION_NAME,
  envoyListener,
  type EnvoyListenerAddress,
} from './listener';
import { envoyRouteConfiguration, envoyVirtualHost } from './route-configuration';

export interface EnvoyTranslateOptions {
  /** Where Envoy's listener binds. */
  readonly listener: EnvoyListenerAddress;
}

interface EnvoyServiceResources {
  readonly virtualHost: VirtualHost;
  readonly clusters: readonly Resource[];
  readonly endpoints: readonly Resource[];
}

// Per service, as for gRPC clients: a catalog change costs work only for the services it touched.
const translated = new WeakMap<ServiceCatalog, EnvoyServiceResources>();

function translateService(service: ServiceCatalog): EnvoyServiceResources {
  let resources = translated.get(service);
  if (resources === undefined) {
    const clusters = serviceClusters(service);
    resources = {
      virtualHost: envoyVirtualHost(service.name, planRoutes(service)),
      clusters: clusters.map((cluster) => ({
        name: cluster.name,
        type: CLUSTER,
        message: envoyCluster(cluster.name, service.policy.lbPolicy),
      })),
      endpoints: clusters.map((cluster) => ({
        name: cluster.name,
        type: ENDPOINT,
        message: envoyClusterLoadAssignment(cluster.name, cluster.members),
      })),
    };
    translated.set(service, resources);
  }
  return resources;
}

// The RouteConfiguration holds every virtual host; while none changed, keep the same Resource so
// it is not encoded again.
let lastRoutes: { readonly virtualHosts: readonly VirtualHost[]; readonly resource: Resource } | undefined;
let lastListener: { readonly key: string; readonly resource: Resource } | undefined;

function routeConfigurationResource(virtualHosts: readonly VirtualHost[]): Resource {
  const same =
    lastRoutes !== undefined &&
    lastRoutes.virtualHosts.length === virtualHosts.length &&
    lastRoutes.virtualHosts.every((host, i) => host === virtualHosts[i]);
  if (!same) {
    const resource = {
      name: ENVOY_ROUTE_CONFIGURATION_NAME,
      type: ROUTE,
      message: envoyRouteConfiguration(virtualHosts),
    };
    lastRoutes = { virtualHosts, resource };
  }
  return lastRoutes!.resource;
}

function listenerResource(address: EnvoyListenerAddress): Resource {
  const key = `${address.host}:${address.port}`;
  if (lastListener?.key !== key) {
    lastListener = {
      key,
      resource: { name: ENVOY_LISTENER_NAME, type: LISTENER, message: envoyListener(address) },
    };
  }
  return lastListener.resource;
}

export function translateForEnvoy(catalog: Catalog, options: EnvoyTranslateOptions): ResourceSet {
  const services = [...catalog.services.values()].map(translateService);
  const byType = indexResources([
    listenerResource(options.listener),
    routeConfigurationResource(services.map((service) => service.virtualHost)),
    ...services.flatMap((service) => [...service.clusters, ...service.endpoints]),
  ]);
  return { flavour: 'envoy', revision: catalog.revision, byType, alias: () => undefined };
}
