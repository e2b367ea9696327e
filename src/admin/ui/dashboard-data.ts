// What the dashboard (/ui) shows, as small JSON pages: a summary, services with their versions,
// instances, policy and traffic split, rejected keys, and connected clients. Every list is paged
// and filtered on the server, so a page costs the same with 10 services or 100,000 and the browser
// never holds the whole mesh.
import { compareStrings } from '../../stable-order';
import { formatSocketAddress } from '../../registry/address';
import type { Catalog, ServiceCatalog } from '../../registry/catalog';
import type { Instance } from '../../registry/instance';
import type { RegistryStatus } from '../../registry/etcd-registry';
import type { StreamView } from '../../server/xds-server';
import type { TypeSubscription } from '../../server/type-subscription';
import type { Explanation } from '../explain';
import type { LatencyPoint, LatencyTimeline } from './latency-timeline';

/** Rows a page holds at most. */
export const MAX_PAGE = 200;

export interface PageRequest {
  readonly offset: number;
  readonly limit: number;
  /** Keeps the rows whose name (service, key, node id) contains it; case-insensitive. */
  readonly filter?: string;
}

export interface Page<T> {
  /** Rows that match the filter, over all pages. */
  readonly total: number;
  readonly offset: number;
  readonly items: readonly T[];
}

/**
 * The rows of `items` that `keep`, from `offset`, at most `limit`. It reads past the page only to
 * count matches; given `size` (no filter: every item matches), it stops once the page is full.
 */
export function page<T, R>(
  items: Iterable<T>,
  request: PageRequest,
  keep: ((item: T) => boolean) | undefined,
  row: (item: T) => R,
  size?: number,
): Page<R> {
  const rows: R[] = [];
  let total = 0;
  for (const item of items) {
    if (keep !== undefined && !keep(item)) continue;
    if (total >= request.offset && rows.length < request.limit) rows.push(row(item));
    total++;
    if (keep === undefined && size !== undefined && rows.length >= request.limit)
      return { total: size, offset: request.offset, items: rows };
  }
  return { total, offset: request.offset, items: rows };
}

/** A case-insensitive substring match, or undefined for no filter (everything matches). */
function contains(filter: string | undefined): ((text: string) => boolean) | undefined {
  if (filter === undefined || filter === '') return undefined;
  const needle = filter.toLowerCase();
  return (text) => text.toLowerCase().includes(needle);
}

export interface Summary {
  readonly revision: number | null;
  readonly registry: RegistryStatus;
  readonly services: number;
  readonly instances: number;
  readonly policies: number;
  readonly rejected: number;
  readonly clients: number;
  /** Clients whose latest answer to some type was a NACK. */
  readonly nacking: number;
  /** Clients by kind (grpc-js, grpc-go, envoy…; "unknown" before their first request). */
  readonly kinds: Readonly<Record<string, number>>;
  readonly timeline: readonly LatencyPoint[];
}

export function summary(
  catalog: Catalog | undefined,
  registry: RegistryStatus,
  streams: readonly StreamView[],
  timeline: LatencyTimeline,
): Summary {
  const kinds: Record<string, number> = {};
  let nacking = 0;
  for (const stream of streams) {
    const kind = stream.profile?.kind ?? 'unknown';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    for (const subscription of stream.state.subscriptions.values())
      if (subscription.refusing) {
        nacking++;
        break;
      }
  }
  return {
    revision: catalog?.revision ?? null,
    registry,
    services: catalog?.services.size ?? 0,
    instances: catalog?.instanceCount ?? 0,
    policies: catalog === undefined ? 0 : countPolicies(catalog),
    rejected: catalog?.rejected.size ?? 0,
    clients: streams.length,
    nacking,
    kinds,
    timeline: timeline.points(),
  };
}

const policyCounts = new WeakMap<Catalog, number>();

function countPolicies(catalog: Catalog): number {
  let count = policyCounts.get(catalog);
  if (count === undefined) {
    count = 0;
    for (const service of catalog.services.values()) if (service.policy.key !== undefined) count++;
    policyCounts.set(catalog, count);
  }
  return count;
}

export interface InstanceRow {
  readonly id: string;
  readonly key: string;
  readonly address: string;
  readonly zone: string;
  readonly weight: number;
  readonly status: string;
}

/** Instances listed per version at most; the rest are counted (the full list: config_dump). */
export const MAX_INSTANCES_SHOWN = 20;

export interface VersionRow {
  /** null: instances registered without a version. */
  readonly version: string | null;
  /** Instances of this version (counted in full; the first MAX_INSTANCES_SHOWN listed). */
  readonly count: number;
  readonly draining: number;
  readonly instances: readonly InstanceRow[];
}

/** Where calls without a version header (and from a client with no caller labels) go. */
export type TrafficSplit =
  | {
      readonly routed: true;
      readonly route: string | null;
      /** Per cluster: its share in percent and the versions of its endpoints. */
      readonly clusters: readonly { cluster: string; percent: number; versions: (string | null)[] }[];
    }
  | { readonly routed: false; readonly reason: string };

export interface ServiceRow {
  readonly name: string;
  readonly instances: number;
  readonly versions: readonly VersionRow[];
  /** Registrations hidden because an earlier key registered their address. */
  readonly shadowed: number;
  readonly policy: { readonly key: string; readonly settings: object } | null;
  readonly split: TrafficSplit;
}

/** Explains a call to `service` without headers from a client without labels. */
export type DefaultCall = (service: string) => Explanation | undefined;

export function servicesPage(catalog: Catalog | undefined, request: PageRequest, explain: DefaultCall) {
  const matches = contains(request.filter);
  return page(
    catalog?.services.values() ?? [],
    request,
    matches && ((service) => matches(service.name)),
    (service) => serviceRow(service, explain(service.name)),
    catalog?.services.size ?? 0,
  );
}

export function serviceRow(service: ServiceCatalog, explanation: Explanation | undefined): ServiceRow {
  const versions = new Map<string | null, { count: number; draining: number; instances: InstanceRow[] }>();
  for (const instance of service.instances) {
    const version = instance.version ?? null;
    let row = versions.get(version);
    if (row === undefined) versions.set(version, (row = { count: 0, draining: 0, instances: [] }));
    row.count++;
    if (instance.status === 'draining') row.draining++;
    if (row.instances.length < MAX_INSTANCES_SHOWN) row.instances.push(instanceRow(instance));
  }
  const { key, ...settings } = service.policy;
  return {
    name: service.name,
    instances: service.instances.length,
    versions: [...versions]
      .sort(([a], [b]) => compareVersions(a, b))
      .map(([version, row]) => ({ version, ...row })),
    shadowed: service.shadowed.length,
    policy: key === undefined ? null : { key, settings },
    split: trafficSplit(explanation),
  };
}

/** Versions in name order, instances without a version last. */
function compareVersions(a: string | null, b: string | null): number {
  return a === null ? (b === null ? 0 : 1) : b === null ? -1 : compareStrings(a, b);
}

function instanceRow(instance: Instance): InstanceRow {
  return {
    id: instance.id,
    key: instance.key,
    address: formatSocketAddress(instance.address),
    zone: instance.zone,
    weight: instance.weight,
    status: instance.status,
  };
}

function trafficSplit(explanation: Explanation | undefined): TrafficSplit {
  if (explanation === undefined) return { routed: false, reason: 'no snapshot yet' };
  if (explanation.outcome !== 'routed')
    return { routed: false, reason: explanation.reason ?? 'calls fail UNAVAILABLE' };
  const total = explanation.clusters.reduce((sum, cluster) => sum + cluster.weight, 0);
  return {
    routed: true,
    route: explanation.route?.name ?? null,
    clusters: explanation.clusters.map((cluster) => ({
      cluster: cluster.name,
      percent: total === 0 ? 0 : Math.round((cluster.weight / total) * 1000) / 10,
      versions: [...new Set(cluster.endpoints.map((endpoint) => endpoint.version))].sort(compareVersions),
    })),
  };
}

export interface RejectedRow {
  readonly key: string;
  readonly kind: string;
  readonly code: string;
  readonly error: string;
}

export function rejectedPage(catalog: Catalog | undefined, request: PageRequest): Page<RejectedRow> {
  const matches = contains(request.filter);
  return page(
    catalog?.rejected ?? [],
    request,
    matches && (([key]) => matches(key)),
    ([key, { kind, problem }]) => ({ key, kind, code: problem.code, error: problem.message }),
    catalog?.rejected.size ?? 0,
  );
}

/** Where a client stands on one resource type. */
export interface TypeStatus {
  readonly type: string;
  /**
   * nacked: it rejected a response and has accepted none sent since (it keeps its last accepted
   * version); acked: it accepted the latest response; pending: the latest response awaits its
   * answer; waiting: nothing sent yet.
   */
  readonly status: 'acked' | 'nacked' | 'pending' | 'waiting';
  /** The version it accepted last. */
  readonly acked: string | null;
  /** The NACK's error, when nacked. */
  readonly error?: string;
}

export function typeStatus(subscription: TypeSubscription): TypeStatus {
  const { ackedVersion, lastNack, lastNonce, lastSentVersion } = subscription;
  const base = { type: subscription.type.short, acked: ackedVersion ?? null };
  if (subscription.refusing) return { ...base, status: 'nacked', error: lastNack!.message };
  if (ackedVersion !== undefined && ackedVersion === lastSentVersion) return { ...base, status: 'acked' };
  return { ...base, status: lastNonce === undefined ? 'waiting' : 'pending' };
}

export interface ClientRow {
  readonly stream: number;
  readonly node: string | null;
  readonly kind: string | null;
  readonly flavour: string | null;
  readonly protocol: string;
  /** ADS, or the per-type service it uses. */
  readonly service: string;
  readonly peer: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly connectedAt: string;
  readonly types: readonly TypeStatus[];
  /** Its latest convergence on a change: how long from etcd to its ACK. */
  readonly converged: { readonly ms: number; readonly at: string } | null;
}

/** The states a clients page can be narrowed to: a client is in one if any of its types is. */
export const CLIENT_STATES = ['nacked', 'pending', 'waiting'] as const;
export type ClientState = (typeof CLIENT_STATES)[number];

export function clientsPage(
  streams: readonly StreamView[],
  request: PageRequest & { readonly state?: ClientState },
  timeline: LatencyTimeline,
): Page<ClientRow> {
  const matches = contains(request.filter);
  const { state } = request;
  const inState =
    state === undefined
      ? undefined
      : (stream: StreamView) => {
          for (const subscription of stream.state.subscriptions.values())
            if (typeStatus(subscription).status === state) return true;
          return false;
        };
  const keep =
    matches === undefined && inState === undefined
      ? undefined
      : (stream: StreamView) =>
          (matches === undefined || matches(stream.state.node?.id ?? '')) &&
          (inState === undefined || inState(stream));
  return page(streams, request, keep, (stream) => clientRow(stream, timeline), streams.length);
}

function clientRow({ state, profile, protocol, onlyType }: StreamView, timeline: LatencyTimeline): ClientRow {
  const converged = timeline.lastConvergence(state);
  return {
    stream: state.id,
    node: state.node?.id ?? null,
    kind: profile?.kind ?? null,
    flavour: profile?.flavour ?? null,
    protocol,
    service: onlyType?.short ?? 'ADS',
    peer: state.peer,
    labels: profile === undefined ? {} : Object.fromEntries(profile.labels),
    connectedAt: new Date(state.connectedAt).toISOString(),
    types: [...state.subscriptions.values()].map(typeStatus),
    converged:
      converged === undefined
        ? null
        : { ms: Math.round(converged.seconds * 10_000) / 10, at: new Date(converged.at).toISOString() },
  };
}
