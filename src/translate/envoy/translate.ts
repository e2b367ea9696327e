// Catalog → ResourceSet for Envoy: one socket listener, one RouteConfiguration with a virtual
// host per service, and the same clusters (by name and membership) as gRPC clients get.
import type { VirtualHost } from '../../generated/envoy/config/route/v3/VirtualHost';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../proto/xds-types';
import type { Catalog, ServiceCatalog } from '../../registry/catalog';
import { builtOnRead, indexResources, type Resource, type ResourceSet } from '../resource-set';
import { planRoutes, selectedCallerRoutes } from '../route-plan';
import {
  affinityZone,
  hasCallerRoutes,
  SelectionMemo,
  viewServices,
  ZonedEndpoints,
  type View,
} from '../view';
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
/** Virtual hosts for proxies that get some of the service's caller routes, by selection. */
const callerHosts = new SelectionMemo<VirtualHost>();

function translateService(service: ServiceCatalog, selected: readonly number[] = []): EnvoyServiceResources {
  const resources = translatePlainService(service);
  if (selected.length === 0) return resources;
  const virtualHost = callerHosts.get(service, selected, () =>
    envoyVirtualHost(service.name, planRoutes(service, selected)),
  );
  return { ...resources, virtualHost };
}

/** Endpoints for proxies in a zone (contract §10), per zone. */
const zoned = new ZonedEndpoints();

function zonedEndpoints(service: ServiceCatalog, zone: string): readonly Resource[] {
  return zoned.get(service, zone, zone, translatePlainService(service).endpoints, (cluster) =>
    envoyClusterLoadAssignment(cluster.name, cluster.members, zone),
  );
}

function translatePlainService(service: ServiceCatalog): EnvoyServiceResources {
  let resources = translated.get(service);
  if (resources === undefined) {
    const clusters = serviceClusters(service);
    resources = {
      virtualHost: envoyVirtualHost(service.name, planRoutes(service)),
      clusters: clusters.map((cluster) => ({
        name: cluster.name,
        type: CLUSTER,
        message: envoyCluster(cluster.name, service.policy),
      })),
      endpoints: clusters.map(({ name, members }) =>
        builtOnRead(name, ENDPOINT, () => envoyClusterLoadAssignment(name, members)),
      ),
    };
    translated.set(service, resources);
  }
  return resources;
}

// The RouteConfiguration holds every virtual host; while none changed, keep the same Resource so
// it is not encoded again. One per view key (the plain view's is ''), a bounded number of them.
interface BuiltRoutes {
  readonly virtualHosts: readonly VirtualHost[];
  readonly resource: Resource;
}
const lastRoutes = new Map<string, BuiltRoutes>();
const MAX_REMEMBERED_ROUTES = 1_000;
let lastListener: { readonly key: string; readonly resource: Resource } | undefined;

function routeConfigurationResource(viewKey: string, virtualHosts: readonly VirtualHost[]): Resource {
  const last = lastRoutes.get(viewKey);
  const same =
    last !== undefined &&
    last.virtualHosts.length === virtualHosts.length &&
    last.virtualHosts.every((host, i) => host === virtualHosts[i]);
  if (same) return last.resource;
  const resource = {
    name: ENVOY_ROUTE_CONFIGURATION_NAME,
    type: ROUTE,
    message: envoyRouteConfiguration(virtualHosts),
  };
  if (!lastRoutes.has(viewKey) && lastRoutes.size >= MAX_REMEMBERED_ROUTES) lastRoutes.clear();
  lastRoutes.set(viewKey, { virtualHosts, resource });
  return resource;
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

function virtualHosts(catalog: Catalog, view: View | undefined): VirtualHost[] {
  const labels = view?.labels;
  return [...catalog.services.values()].map(
    (service) =>
      translateService(service, labels === undefined ? [] : selectedCallerRoutes(service.policy, labels))
        .virtualHost,
  );
}

/**
 * Resources of an Envoy view that differ from the plain view's: the one RouteConfiguration, when
 * some virtual host in it has caller routes for this view.
 */
export function envoyViewOverrides(catalog: Catalog, view: View): Resource[] {
  const overrides: Resource[] = [];
  if (hasCallerRoutes(catalog, view))
    overrides.push(routeConfigurationResource(view.key, virtualHosts(catalog, view)));
  for (const { service, zone } of viewServices(catalog, view)) {
    if (zone === undefined) continue;
    const plain = translatePlainService(service).endpoints;
    overrides.push(...zonedEndpoints(service, zone).filter((endpoint, i) => endpoint !== plain[i]));
  }
  return overrides;
}

export function translateForEnvoy(
  catalog: Catalog,
  options: EnvoyTranslateOptions,
  view?: View,
): ResourceSet {
  const services = [...catalog.services.values()].map((service) => translateService(service));
  const routed = view !== undefined && hasCallerRoutes(catalog, view);
  const byType = indexResources([
    listenerResource(options.listener),
    routed
      ? routeConfigurationResource(view.key, virtualHosts(catalog, view))
      : routeConfigurationResource(
          '',
          services.map((service) => service.virtualHost),
        ),
    ...[...catalog.services.values()].flatMap((service, i) => {
      const zone = affinityZone(service, view);
      return [
        ...services[i].clusters,
        ...(zone === undefined ? services[i].endpoints : zonedEndpoints(service, zone)),
      ];
    }),
  ]);
  return { flavour: 'envoy', revision: catalog.revision, byType, alias: () => undefined };
}
