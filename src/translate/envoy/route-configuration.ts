// The one RouteConfiguration of the Envoy listener: a virtual host per service carrying the
// same routes (contract §4) as gRPC clients get.
import type { HeaderMatcher } from '../../generated/envoy/config/route/v3/HeaderMatcher';
import type { RouteConfiguration } from '../../generated/envoy/config/route/v3/RouteConfiguration';
import type { VirtualHost } from '../../generated/envoy/config/route/v3/VirtualHost';
import type { RetryPolicy as RoutePolicyRetry } from '../../generated/envoy/config/route/v3/RetryPolicy';
import type { RegexMatcher } from '../../generated/envoy/type/matcher/v3/RegexMatcher';
import { packAny } from '../any';
import type { HeaderMatch } from '../../registry/policy';
import { invertField, presenceMatcher, protoDuration, renderRoute, type RouteDialect } from '../render-route';
import type { RoutePlan } from '../route-plan';
import { ENVOY_ROUTE_CONFIGURATION_NAME } from './listener';

export function envoyVirtualHost(service: string, plan: RoutePlan): VirtualHost {
  return {
    name: service,
    // The authority of a call to Envoy: `app`, or `app:10000` when the client names the port.
    domains: [service, `${service}:*`],
    routes: plan.routes.map((route) => renderRoute(service, route, plan, ENVOY_DIALECT)),
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

const PREVIOUS_PRIORITIES = 'envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig';

/**
 * Envoy learns that an endpoint is down only from health checks or outlier detection, so with zone
 * affinity a call whose connection to priority 0 fails is retried on the next priority
 * (previous_priorities): the failover gRPC clients do from connection state. Only failures before
 * the call reached a backend are retried this way; the route's own retry policy is kept.
 */
function envoyZoneFailover(retry: RoutePolicyRetry | undefined): RoutePolicyRetry {
  const on = new Set((retry?.retry_on ?? '').split(',').filter((code) => code !== ''));
  on.add('connect-failure');
  on.add('refused-stream');
  const retries = Number((retry?.num_retries as { value?: number } | undefined)?.value ?? 0);
  return {
    ...retry,
    retry_on: [...on].join(','),
    num_retries: { value: Math.max(retries, 2) },
    retry_priority: {
      name: 'envoy.retry_priorities.previous_priorities',
      typed_config: packAny(PREVIOUS_PRIORITIES, { update_frequency: 2 }),
    },
  };
}

const ENVOY_DIALECT: RouteDialect = {
  headerMatcher: envoyHeaderMatcher,
  regex: envoyRegex,
  actionExtras: {
    // gRPC calls can stream for as long as they like; their own deadline (grpc-timeout) bounds them.
    timeout: { seconds: 0 },
    max_stream_duration: { grpc_timeout_header_max: { seconds: 0 } },
  },
  zoneFailover: envoyZoneFailover,
  // The route timeout for calls without a deadline, and the cap on the deadline of those with one.
  timeout: (timeoutMs) => ({
    timeout: protoDuration(timeoutMs),
    max_stream_duration: { grpc_timeout_header_max: protoDuration(timeoutMs) },
  }),
};
