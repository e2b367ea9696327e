// Renders a service's RoutePlan as the RouteConfiguration proxyless gRPC clients apply.
import type { HeaderMatcher } from '../../generated/envoy/config/route/v3/HeaderMatcher';
import type { RouteConfiguration } from '../../generated/envoy/config/route/v3/RouteConfiguration';
import type { RegexMatcher } from '../../generated/envoy/type/matcher/v3/RegexMatcher';
import type { HeaderMatch } from '../../registry/policy';
import { invertField, presenceMatcher, protoDuration, renderRoute, type RouteDialect } from '../render-route';
import { routeConfigurationName } from '../resource-names';
import type { RoutePlan } from '../route-plan';

export function grpcRouteConfiguration(service: string, plan: RoutePlan): RouteConfiguration {
  return {
    name: routeConfigurationName(service),
    virtual_hosts: [
      {
        name: service,
        // Clients match the authority of the target: `app` for xds:///app, `app:50051` for xds:///app:50051.
        domains: [service, `${service}:*`],
        routes: plan.routes.map((route) => renderRoute(service, route, plan, GRPC_DIALECT)),
      },
    ],
  };
}

/** Uses the matcher fields that every gRPC client accepts (C-core 1.51 rejects `string_match`). */
export function grpcHeaderMatcher(match: HeaderMatch): HeaderMatcher {
  switch (match.kind) {
    case 'exact':
      return { name: match.name, exact_match: match.value, ...invertField(match.invert) };
    case 'prefix':
      return { name: match.name, prefix_match: match.value, ...invertField(match.invert) };
    case 'regex':
      return {
        name: match.name,
        safe_regex_match: grpcRegex(match.value),
        ...invertField(match.invert),
      };
    case 'present':
      return presenceMatcher(match);
  }
}

/** C-core 1.51 requires the engine to be named. */
function grpcRegex(pattern: string): RegexMatcher {
  return { google_re2: {}, regex: pattern };
}

const GRPC_DIALECT: RouteDialect = {
  headerMatcher: grpcHeaderMatcher,
  regex: grpcRegex,
  actionExtras: {},
  // gRFC A31: the route's max_stream_duration caps the call's deadline (RouteAction.timeout is not read).
  timeout: (timeoutMs) => ({ max_stream_duration: { max_stream_duration: protoDuration(timeoutMs) } }),
};
