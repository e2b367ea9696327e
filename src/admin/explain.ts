// Explain (contract §11): where a call to a service would go, for a client with given caller labels
// and call headers. It reads the resources that client would be sent (its view's snapshot: the
// RouteConfiguration, Clusters and ClusterLoadAssignments, decoded from the bytes on the wire) and
// applies gRPC's route selection to them (gRFC A28: first route whose path and headers match), so
// it cannot disagree with what clients do. It never evaluates a policy itself.
import { RE2JS } from 're2js';
import type { Snapshot } from '../cache/snapshot';
import { decodeToJson } from '../proto/proto-root';
import { CLUSTER, ENDPOINT, ROUTE } from '../proto/xds-types';
import { formatSocketAddress } from '../registry/address';
import type { ServiceCatalog } from '../registry/catalog';
import { FAULT_FILTER_NAME } from '../translate/filters';
import { routeConfigurationName } from '../translate/resource-names';
import { planRoutes, type RouteAction } from '../translate/route-plan';
import { selectedCallerRoutes } from '../translate/route-plan';
import type { View } from '../translate/view';
import type { SnapshotCache } from '../cache/snapshot-cache';
import type { CallerLabels } from '../translate/caller-labels';

export interface ExplainRequest {
  readonly service: string;
  /** Call headers, names lower case; repeated names joined with "," as gRPC does. */
  readonly headers: ReadonlyMap<string, string>;
  /** The method path; routes that match on the method are skipped when it is not given. */
  readonly method: string | undefined;
}

export interface ExplainedEndpoint {
  readonly address: string;
  readonly id: string | null;
  readonly version: string | null;
  readonly zone: string;
  readonly weight: number;
  readonly status: string;
  readonly priority: number;
}

export interface Explanation {
  readonly service: string;
  readonly caller: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly method: string | null;
  readonly route: { readonly name: string; readonly index: number } | null;
  readonly outcome: 'routed' | 'unavailable';
  readonly reason?: string;
  readonly clusters: readonly {
    readonly name: string;
    readonly weight: number;
    readonly endpoints: readonly ExplainedEndpoint[];
  }[];
  /** The timeout in force, as a policy writes it ("300ms", "2s"); null: the caller's deadline alone. */
  readonly timeout: string | null;
  readonly retry: {
    readonly on: readonly string[];
    readonly attempts: number;
    readonly backoff: { readonly base: string; readonly max: string };
  } | null;
}

interface DurationJson {
  readonly seconds?: string | number;
  readonly nanos?: number;
}

/** A decoded Duration as a policy would write it: whole seconds as "2s", anything else in ms. */
function policyDuration(duration: DurationJson | undefined): string | undefined {
  if (duration === undefined) return undefined;
  const ms = Number(duration.seconds ?? 0) * 1000 + (duration.nanos ?? 0) / 1e6;
  return ms > 0 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

// The parts of the decoded resources explain reads (decodeToJson: proto field names, JSON values).
interface StringMatch {
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly contains?: string;
  readonly safe_regex?: { readonly regex: string };
  readonly ignore_case?: boolean;
}
interface HeaderMatcherJson {
  readonly name: string;
  readonly exact_match?: string;
  readonly prefix_match?: string;
  readonly suffix_match?: string;
  readonly contains_match?: string;
  readonly safe_regex_match?: { readonly regex: string };
  readonly present_match?: boolean;
  readonly string_match?: StringMatch;
  readonly invert_match?: boolean;
}
interface RouteJson {
  readonly name?: string;
  readonly match: {
    readonly prefix?: string;
    readonly path?: string;
    readonly safe_regex?: { readonly regex: string };
    readonly case_sensitive?: boolean;
    readonly headers?: readonly HeaderMatcherJson[];
  };
  readonly route?: {
    readonly cluster?: string;
    readonly weighted_clusters?: {
      readonly clusters: readonly { name: string; weight?: { value?: number } }[];
    };
    readonly max_stream_duration?: { readonly max_stream_duration?: DurationJson };
    readonly retry_policy?: {
      readonly retry_on?: string;
      readonly num_retries?: { readonly value?: number };
      readonly retry_back_off?: {
        readonly base_interval?: DurationJson;
        readonly max_interval?: DurationJson;
      };
    };
  };
  readonly typed_per_filter_config?: Record<string, { readonly abort?: { readonly grpc_status?: number } }>;
}
interface RouteConfigurationJson {
  readonly virtual_hosts?: readonly { readonly routes?: readonly RouteJson[] }[];
}
interface ClusterJson {
  readonly eds_cluster_config?: { readonly service_name?: string };
}
interface LocalityEndpointsJson {
  readonly locality?: { readonly zone?: string };
  readonly priority?: number;
  readonly lb_endpoints?: readonly {
    readonly endpoint?: {
      readonly address?: { readonly socket_address?: { address: string; port_value?: number } };
    };
    readonly load_balancing_weight?: { readonly value?: number };
    readonly health_status?: string;
  }[];
}
interface ClusterLoadAssignmentJson {
  readonly endpoints?: readonly LocalityEndpointsJson[];
}

function decoded<T>(snapshot: Snapshot, type: typeof ROUTE, name: string): T | undefined {
  const resource = snapshot.get(type, name);
  return resource === undefined ? undefined : (decodeToJson(type.messageName, resource.bytes) as T);
}

/**
 * Explains a call to `request.service` by a client of `view`, served `snapshot`. `service` is
 * the catalog's entry (for instance ids and reasons); undefined when the service does not exist.
 */
export function explain(
  view: View,
  snapshot: Snapshot,
  service: ServiceCatalog,
  request: ExplainRequest,
): Explanation {
  const common = {
    service: request.service,
    caller: Object.fromEntries(view.labels),
    headers: Object.fromEntries(request.headers),
    method: request.method ?? null,
  };
  const configuration = decoded<RouteConfigurationJson>(
    snapshot,
    ROUTE,
    routeConfigurationName(service.name),
  );
  const routes = configuration?.virtual_hosts?.[0]?.routes ?? [];
  const index = routes.findIndex((route) => routeMatches(route, request));
  if (index < 0) {
    return {
      ...common,
      route: null,
      outcome: 'unavailable',
      reason: 'no route matches the call',
      clusters: [],
      timeout: null,
      retry: null,
    };
  }
  const route = routes[index];
  const chosen = { name: route.name ?? `#${index}`, index };
  const action = route.route ?? {};
  // What gRPC clients read (gRFC A31, A44); the Envoy flavour renders the same policy.
  const timeout = policyDuration(action.max_stream_duration?.max_stream_duration) ?? null;
  const policy = action.retry_policy;
  const retry =
    policy === undefined
      ? null
      : {
          on: (policy.retry_on ?? '').split(',').filter((code) => code !== ''),
          attempts: (policy.num_retries?.value ?? 1) + 1,
          backoff: {
            base: policyDuration(policy.retry_back_off?.base_interval) ?? '25ms',
            max: policyDuration(policy.retry_back_off?.max_interval) ?? '250ms',
          },
        };
  const abort = route.typed_per_filter_config?.[FAULT_FILTER_NAME]?.abort;
  if (abort !== undefined) {
    return {
      ...common,
      route: chosen,
      outcome: 'unavailable',
      reason: rejectReason(service, view, chosen.name) ?? `route ${chosen.name} fails every call`,
      clusters: [],
      timeout,
      retry,
    };
  }
  const targets =
    action.cluster !== undefined
      ? [{ name: action.cluster, weight: 100 }]
      : (action.weighted_clusters?.clusters ?? []).map((cluster) => ({
          name: cluster.name,
          weight: cluster.weight?.value ?? 0,
        }));
  const byAddress = new Map(
    service.instances.map((instance) => [formatSocketAddress(instance.address), instance]),
  );
  const clusters = targets.map(({ name, weight }) => ({
    name,
    weight,
    endpoints: clusterEndpoints(snapshot, name, byAddress),
  }));
  const serving = clusters.some((cluster) => cluster.weight > 0 && cluster.endpoints.length > 0);
  return {
    ...common,
    route: chosen,
    outcome: serving ? 'routed' : 'unavailable',
    ...(serving ? {} : { reason: `route ${chosen.name} leads to clusters without endpoints` }),
    clusters,
    timeout,
    retry,
  };
}

function clusterEndpoints(
  snapshot: Snapshot,
  cluster: string,
  byAddress: ReadonlyMap<string, ServiceCatalog['instances'][number]>,
): ExplainedEndpoint[] {
  const edsName =
    decoded<ClusterJson>(snapshot, CLUSTER, cluster)?.eds_cluster_config?.service_name ?? cluster;
  const assignment = decoded<ClusterLoadAssignmentJson>(snapshot, ENDPOINT, edsName);
  const endpoints: ExplainedEndpoint[] = [];
  for (const locality of assignment?.endpoints ?? []) {
    for (const lbEndpoint of locality.lb_endpoints ?? []) {
      const socket = lbEndpoint.endpoint?.address?.socket_address;
      if (socket === undefined) continue;
      const host = socket.address.includes(':') ? `[${socket.address}]` : socket.address;
      const address = `${host}:${socket.port_value ?? 0}`;
      const instance = byAddress.get(address);
      endpoints.push({
        address,
        id: instance?.id ?? null,
        version: instance?.version ?? null,
        zone: locality.locality?.zone ?? '',
        weight: lbEndpoint.load_balancing_weight?.value ?? 1,
        status: healthStatus(lbEndpoint.health_status),
        priority: locality.priority ?? 0,
      });
    }
  }
  return endpoints;
}

/** EDS health as the contract's instance status (§9): unset and HEALTHY serve. */
function healthStatus(status: string | undefined): string {
  switch (status) {
    case undefined:
    case 'UNKNOWN':
    case 'HEALTHY':
      return 'serving';
    case 'DRAINING':
      return 'draining';
    default:
      return status.toLowerCase();
  }
}

/** Why a route that fails calls does: the reason the translation gave it (matched by route name). */
function rejectReason(service: ServiceCatalog, view: View, name: string): string | undefined {
  const plan = planRoutes(service, selectedCallerRoutes(service.policy, view.labels));
  const action: RouteAction | undefined = plan.routes.find((route) => route.name === name)?.action;
  return action?.kind === 'reject' ? action.reason : undefined;
}

function routeMatches(route: RouteJson, request: ExplainRequest): boolean {
  return (
    pathMatches(route.match, request.method) &&
    (route.match.headers ?? []).every((m) => headerMatches(m, request.headers))
  );
}

function pathMatches(match: RouteJson['match'], method: string | undefined): boolean {
  const sensitive = match.case_sensitive ?? true;
  const fold = (text: string): string => (sensitive ? text : text.toLowerCase());
  if (match.prefix !== undefined) {
    // Without a method, only routes for every method (prefix "" or "/") can be said to match.
    if (method === undefined) return match.prefix === '' || match.prefix === '/';
    return fold(method).startsWith(fold(match.prefix));
  }
  if (method === undefined) return false;
  if (match.path !== undefined) return fold(method) === fold(match.path);
  if (match.safe_regex !== undefined) return fullMatch(match.safe_regex.regex, method);
  return false;
}

function headerMatches(matcher: HeaderMatcherJson, headers: ReadonlyMap<string, string>): boolean {
  const value = headers.get(matcher.name.toLowerCase());
  let matched: boolean;
  if (matcher.present_match !== undefined) matched = (value !== undefined) === matcher.present_match;
  else if (value === undefined) matched = false;
  else if (matcher.exact_match !== undefined) matched = value === matcher.exact_match;
  else if (matcher.prefix_match !== undefined) matched = value.startsWith(matcher.prefix_match);
  else if (matcher.suffix_match !== undefined) matched = value.endsWith(matcher.suffix_match);
  else if (matcher.contains_match !== undefined) matched = value.includes(matcher.contains_match);
  else if (matcher.safe_regex_match !== undefined) matched = fullMatch(matcher.safe_regex_match.regex, value);
  else if (matcher.string_match !== undefined) matched = stringMatches(matcher.string_match, value);
  else matched = false;
  // gRFC A28: invert_match does not apply to a header that is absent (except for present_match).
  if (value === undefined && matcher.present_match === undefined) return false;
  return matcher.invert_match === true ? !matched : matched;
}

function stringMatches(match: StringMatch, value: string): boolean {
  const fold = (text: string): string => (match.ignore_case === true ? text.toLowerCase() : text);
  if (match.exact !== undefined) return fold(value) === fold(match.exact);
  if (match.prefix !== undefined) return fold(value).startsWith(fold(match.prefix));
  if (match.suffix !== undefined) return fold(value).endsWith(fold(match.suffix));
  if (match.contains !== undefined) return fold(value).includes(fold(match.contains));
  if (match.safe_regex !== undefined) return fullMatch(match.safe_regex.regex, value);
  return false;
}

function fullMatch(pattern: string, value: string): boolean {
  return RE2JS.compile(pattern).matches(value);
}

/** Explains a call by a gRPC client with these caller labels, from the snapshot its view is served. */
/** Explains a call (contract §11); undefined before the first catalog. */
export type ExplainCall = (
  caller: CallerLabels,
  request: ExplainRequest,
) => Explanation | 'no-such-service' | undefined;

export function explainCall(
  cache: Pick<SnapshotCache, 'viewOf' | 'snapshotOf' | 'translatedCatalog'>,
  caller: CallerLabels,
  request: ExplainRequest,
): Explanation | 'no-such-service' | undefined {
  const catalog = cache.translatedCatalog();
  const view = cache.viewOf({ flavour: 'grpc', labels: caller });
  const snapshot = view === undefined ? undefined : cache.snapshotOf(view);
  if (catalog === undefined || view === undefined || snapshot === undefined) return undefined;
  const service = catalog.services.get(request.service);
  if (service === undefined) return 'no-such-service';
  return explain({ ...view, labels: caller }, snapshot, service, request);
}
