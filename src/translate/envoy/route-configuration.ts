// The one RouteConfiguration of the Envoy listener: a virtual host per service carrying the
// same routes (contract §4) as gRPC clients get.
import type { HeaderMatcher } from '../../generated/envoy/config/route/v3/HeaderMatcher';
import type { RouteConfiguration } from '../../generated/envoy/config/route/v3/RouteConfiguration';
import type { VirtualHost } from '../../generated/envoy/config/route/v3/VirtualHost';
import type { RegexMatcher } from '../../generated/envoy/type/matcher/v3/RegexMatcher';
import type { HeaderMatch } from '../../registry/policy';
import { invertField, presenceMatcher, protoDuration, renderRoute, type RouteDialect } from '../render-route';
import type { RoutePlan } from '../route-plan';
import { ENVOY_ROUTE_CONFIGURATION_NAME } from './listener';

export function envoyVirtualHost(service: string, plan: RoutePlan): VirtualHost {
  return {
    name: service,
    // The authority of a call to Envoy: `app`, or `app:10000` when the client names the port.
    domains: [service, `${service}:*`],
    routes: plan.routes.map((route) => renderRoute(service, route, plan.hashHeader, ENVOY_DIALECT)),
  };
}

export function envoyRouteConfiguration(virtualHosts: readonly VirtualHost[]): RouteConfiguration {
  return { name: ENVOY_ROUTE_CONFIGURATION_NAME, virtual_hosts: [...virtualHosts] };
}

/** Envoy's current matcher fields (the legacy ones are deprecated there). */
export function envoyHeaderMatcher(match: HeaderMatch): HeaderMatcher {
  switch (match.kind) {
    case 'exact':
      return { name: match.name, string_match: { exact: match.value }, ...invertField(match.invert) };
    case 'prefix':
      return { name: match.name, string_match: { prefix: match.value }, ...invertField(match.invert) };
    case 'regex':
      return {
        name: match.name,
        string_match: { safe_regex: envoyRegex(match.value) },
        ...invertField(match.invert),
      };
    case 'present':
      return presenceMatcher(match);
  }
}

/** Envoy deprecates naming the engine; RE2 is its default. */
function envoyRegex(pattern: string): RegexMatcher {
  return { regex: pattern };
}

const ENVOY_DIALECT: RouteDialect = {
  headerMatcher: envoyHeaderMatcher,
  regex: envoyRegex,
  actionExtras: {
    // gRPC calls can stream for as long as they like; their own deadline (grpc-timeout) bounds them.
    timeout: { seconds: 0 },
    max_stream_duration: { grpc_timeout_header_max: { seconds: 0 } },
  },
  // The route timeout for calls without a deadline, and the cap on the deadline of those with one.
  timeout: (timeoutMs) => ({
    timeout: protoDuration(timeoutMs),
    max_stream_duration: { grpc_timeout_header_max: protoDuration(timeoutMs) },
  }),
};
