// Evaluates a service's routing policy (contract §4) into an ordered, flavour-independent list of
// routes. Every flavour renders the same plan, so gRPC clients and Envoy route alike.
import type {
  CallPolicy,
  HeaderMatch,
  MethodMatch,
  PolicyRoute,
  RoutingPolicy,
  VersionWeight,
} from '../registry/policy';
import type { CallerLabels } from './caller-labels';
import type { ServiceCatalog } from '../registry/catalog';
import { serviceClusterName, versionClusterName } from './resource-names';
import { toPercentages } from './weights';

export type RouteAction =
  | { readonly kind: 'cluster'; readonly cluster: string }
  | {
      readonly kind: 'weighted';
      readonly clusters: readonly { readonly cluster: string; readonly weight: number }[];
    }
  /** Fail the call with UNAVAILABLE. */
  | { readonly kind: 'reject'; readonly reason: string };

export interface PlannedRoute {
  /** Route name, for debugging: `policy-0`, `version-v1`, `unknown-version`, `default`. */
  readonly name: string;
  readonly headers: readonly HeaderMatch[];
  /** The gRPC methods it applies to; undefined for all. */
  readonly method?: MethodMatch;
  readonly action: RouteAction;
  /** Timeout and retries for the calls it routes (the route's own, else the service's). */
  readonly calls: CallPolicy;
}

export interface RoutePlan {
  readonly routes: readonly PlannedRoute[];
  /** Header whose value picks the instance when the policy is ring_hash. */
  readonly hashHeader: string | undefined;
  /** The service's endpoints are prioritised by the caller's zone (contract §10). */
  readonly zoneAffinity: boolean;
}

/** Versions that have at least one serving instance, sorted (draining ones do not count, §9). */
export function versionsWithInstances(service: ServiceCatalog): string[] {
  const versions = new Set<string>();
  for (const instance of service.instances)
    if (instance.version !== undefined && instance.status === 'serving') versions.add(instance.version);
  return [...versions].sort();
}

/** Whether a route applies to a client with these caller labels (routes without `caller` do). */
export function callerMatches(route: PolicyRoute, labels: CallerLabels): boolean {
  return route.caller === undefined || route.caller.every(([label, value]) => labels.get(label) === value);
}

/**
 * The indices of the policy's caller routes that a client with these labels gets: what makes its
 * resources for this service differ from another client's. Empty for most clients and services.
 */
export function selectedCallerRoutes(policy: RoutingPolicy, labels: CallerLabels): number[] {
  const selected: number[] = [];
  if (policy.callerKeys.length === 0) return selected;
  policy.routes.forEach((route, index) => {
    if (route.caller !== undefined && callerMatches(route, labels)) selected.push(index);
  });
  return selected;
}

/**
 * The routes a client gets for a service: the policy's routes that apply to it (a caller route
 * only when `selected` has its index; the others are left out, as if the policy did not have
 * them), then version routing and the default. A route keeps its policy index in its name.
 */
export function planRoutes(service: ServiceCatalog, selected: readonly number[] = []): RoutePlan {
  const policy = service.policy;
  const available = new Set(versionsWithInstances(service));
  const toVersion = (version: string): RouteAction =>
    available.has(version)
      ? { kind: 'cluster', cluster: versionClusterName(service.name, version) }
      : { kind: 'reject', reason: `no instances of ${service.name} version ${version}` };

  const routes: PlannedRoute[] = [];
  policy.routes.forEach((route, index) => {
    if (route.caller !== undefined && !selected.includes(index)) return;
    const action =
      route.weights === undefined
        ? toVersion(route.version)
        : weightedAction(service.name, route.weights, available, toVersion);
    routes.push({
      name: `policy-${index}`,
      headers: route.headers,
      ...(route.method && { method: route.method }),
      action,
      calls: callsOf(action, {
        timeoutMs: route.timeoutMs ?? policy.timeoutMs,
        retry: route.retry ?? policy.retry,
      }),
    });
  });
  for (const version of available) {
    routes.push({
      name: `version-${version}`,
      headers: [{ name: policy.header, invert: false, kind: 'exact', value: version }],
      action: toVersion(version),
      calls: callsOf(toVersion(version), policy),
    });
  }
  if (policy.onUnknownVersion === 'reject') {
    routes.push({
      name: 'unknown-version',
      headers: [{ name: policy.header, invert: false, kind: 'present', value: true }],
      action: {
        kind: 'reject',
        reason: `no instances of ${service.name} with the requested ${policy.header}`,
      },
      calls: {},
    });
  }
  const fallback = defaultAction(service, available, toVersion);
  routes.push({ name: 'default', headers: [], action: fallback, calls: callsOf(fallback, policy) });
  return {
    routes,
    hashHeader: policy.lbPolicy === 'ring_hash' ? policy.hashHeader : undefined,
    zoneAffinity: policy.zoneAffinity,
  };
}

/** The timeout and retries a route carries: none on a route that fails every call anyway. */
function callsOf(action: RouteAction, calls: CallPolicy): CallPolicy {
  if (action.kind === 'reject') return {};
  return {
    ...(calls.timeoutMs !== undefined && { timeoutMs: calls.timeoutMs }),
    ...(calls.retry !== undefined && { retry: calls.retry }),
  };
}

function defaultAction(
  service: ServiceCatalog,
  available: ReadonlySet<string>,
  toVersion: (version: string) => RouteAction,
): RouteAction {
  const { defaultVersion, weights } = service.policy;
  if (defaultVersion !== undefined) return toVersion(defaultVersion);
  if (weights !== undefined) return weightedAction(service.name, weights, available, toVersion);
  return { kind: 'cluster', cluster: serviceClusterName(service.name) };
}

/** A split by version weights (the policy's own, or a route's), as whole percentages. */
function weightedAction(
  service: string,
  weights: readonly VersionWeight[],
  available: ReadonlySet<string>,
  toVersion: (version: string) => RouteAction,
): RouteAction {
  // Only versions that have instances share the traffic; a weight on a version that is not
  // deployed (yet, or any more) would turn its share into failed calls.
  const live = weights.filter(({ version }) => available.has(version));
  if (live.length === 0)
    return { kind: 'reject', reason: `no instances of ${service} in any weighted version` };
  if (live.length === 1) return toVersion(live[0].version);
  const percentages = toPercentages(live.map(({ weight }) => weight));
  return {
    kind: 'weighted',
    clusters: live.map(({ version }, i) => ({
      cluster: versionClusterName(service, version),
      weight: percentages[i],
    })),
  };
}
