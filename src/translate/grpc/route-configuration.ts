// Renders a service's RoutePlan as the RouteConfiguration proxyless gRPC clients apply.
import type { HeaderMatcher } from '../../generated/envoy/config/route/v3/HeaderMatcher';
import type { Route } from '../../generated/envoy/config/route/v3/Route';
import type { RouteConfiguration } from '../../generated/envoy/config/route/v3/RouteConfiguration';
import type { HeaderMatch } from '../../registry/policy';
import { packAny } from '../any';
import { routeConfigurationName, serviceClusterName } from '../resource-names';
import type { PlannedRoute, RoutePlan } from '../route-plan';
import { FAULT_FILTER_NAME, FAULT_MESSAGE } from './listener';

const GRPC_UNAVAILABLE = 14;

export function grpcRouteConfiguration(service: string, plan: RoutePlan): RouteConfiguration {
  return {
    name: routeConfigurationName(service),
    virtual_hosts: [
      {
        name: service,
        // Clients match the authority of the target: `app` for xds:///app, `app:50051` for xds:///app:50051.
        domains: [service, `${service}:*`],
        routes: plan.routes.map((route) => grpcRoute(service, route, plan.hashHeader)),
      },
    ],
  };
}

function grpcRoute(service: string, route: PlannedRoute, hashHeader: string | undefined): Route {
  const match = { prefix: '/', headers: route.headers.map(headerMatcher) };
  const hash_policy = hashHeader === undefined ? [] : [{ header: { header_name: hashHeader } }];
  const action = route.action;
  switch (action.kind) {
    case 'cluster':
      return { name: route.name, match, route: { cluster: action.cluster, hash_policy } };
    case 'weighted':
      return {
        name: route.name,
        match,
        route: {
          weighted_clusters: {
            clusters: action.clusters.map(({ cluster, weight }) => ({
              name: cluster,
              weight: { value: weight },
            })),
          },
          hash_policy,
        },
      };
    case 'reject':
      // A route needs an action (non_forwarding_action breaks grpc-js); the per-route fault
      // aborts every call before the service cluster is ever picked.
      return {
        name: route.name,
        match,
        route: { cluster: serviceClusterName(service) },
        typed_per_filter_config: {
          [FAULT_FILTER_NAME]: packAny(FAULT_MESSAGE, {
            abort: { grpc_status: GRPC_UNAVAILABLE, percentage: { numerator: 100, denominator: 'HUNDRED' } },
          }),
        },
      };
  }
}

/** Uses the matcher fields that every client accepts (C-core 1.51 rejects `string_match`). */
export function headerMatcher(match: HeaderMatch): HeaderMatcher {
  // Default values are left out, so the encoding is the canonical proto3 one.
  const invert = (inverted: boolean): { invert_match?: true } => (inverted ? { invert_match: true } : {});
  switch (match.kind) {
    case 'exact':
      return { name: match.name, exact_match: match.value, ...invert(match.invert) };
    case 'prefix':
      return { name: match.name, prefix_match: match.value, ...invert(match.invert) };
    case 'regex':
      return {
        name: match.name,
        safe_regex_match: { google_re2: {}, regex: match.value },
        ...invert(match.invert),
      };
    case 'present':
      // "present: false" is expressed as an inverted presence check, which every client supports:
      // the header must be present exactly when `value` and `invert` differ.
      return { name: match.name, present_match: true, ...invert(match.value === match.invert) };
  }
}
