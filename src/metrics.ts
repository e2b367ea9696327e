// Every Prometheus metric etcd-xds exports, created on one registry and handed to each stage.
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type LabelValues,
  type MetricValueWithName,
} from 'prom-client';

/**
 * A counter whose counts are made on the hot path (per stream, for every push and ACK): they are
 * handed to the counter once per event-loop turn or when it is read (its collect() flushes them),
 * one label lookup per label set and turn rather than one per stream (a push to 10,000 streams is
 * a few turns of 4,096 streams at most, see PushQueue).
 */
export class CountBatch<L extends string> {
  readonly counter: Counter<L>;
  private readonly pending = new Map<string, { readonly labels: LabelValues<L>; value: number }>();
  private scheduled = false;

  constructor(configuration: CounterConfiguration<L>) {
    this.counter = new Counter({ ...configuration, collect: () => this.flush() });
  }

  /** Adds `value` to the count of `labels`, whose key is `key` (one key per label set). */
  add(key: string, labels: LabelValues<L>, value = 1): void {
    const entry = this.pending.get(key);
    if (entry === undefined) this.pending.set(key, { labels, value });
    else entry.value += value;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    for (const entry of this.pending.values()) {
      if (entry.value === 0) continue;
      this.counter.inc(entry.labels, entry.value);
      entry.value = 0;
    }
  }
}

/**
 * A histogram with one label, observed on the hot path (per stream, for every push and ACK).
 * prom-client's Histogram checks and hashes the label set of every observation: 4–5 µs, which at
 * 1,000 streams was over a tenth of the CPU between an etcd change and its last client. Here an
 * observation is a Map lookup of the label's value, a bucket found by comparison and three
 * additions. It registers as a prom-client metric (a registry asks a metric for get()), and a
 * test compares its exposition with prom-client's Histogram fed the same observations.
 */
export class FastHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly upperBounds: readonly number[];
  /** Label value → observations per bucket (the last: above every bound), their sum and count. */
  private readonly series = new Map<string, { readonly counts: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: L,
    buckets: readonly number[],
    registers: readonly Registry[],
  ) {
    this.upperBounds = [...buckets].sort((a, b) => a - b);
    for (const registry of registers)
      registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  observe(labelValue: string, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: ${value} is not a finite number`);
    let series = this.series.get(labelValue);
    if (series === undefined) {
      series = { counts: new Float64Array(this.upperBounds.length + 1), sum: 0, count: 0 };
      this.series.set(labelValue, series);
    }
    const bounds = this.upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]) bucket++;
    series.counts[bucket]++;
    series.sum += value;
    series.count++;
  }

  /** What prom-client's Histogram gives: cumulative buckets (`le`), then `_sum` and `_count`. */
  get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: MetricValueWithName<string>[];
    aggregator: 'sum';
  }> {
    const values: MetricValueWithName<string>[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const [labelValue, { counts, sum, count }] of this.series) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += counts[i];
        values.push({
          metricName: bucketName,
          labels: { le: this.upperBounds[i], [this.labelName]: labelValue },
          value: cumulative,
        });
      }
      values.push({
        metricName: bucketName,
        labels: { le: '+Inf', [this.labelName]: labelValue },
        value: count,
      });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: labelValue }, value: sum });
      values.push({
        metricName: `${this.name}_count`,
        labels: { [this.labelName]: labelValue },
        value: count,
      });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: 'histogram',
      values,
      aggregator: 'sum',
    });
  }

  reset(): void {
    this.series.clear();
  }
}

export class Metrics {
  readonly registry: Registry;

  // registry/
  readonly etcdWatchRevision: Gauge;
  readonly registryStale: Gauge;
  readonly registryStaleSeconds: Gauge;
  /** When the registry became stale (Date.now()), read when metrics are scraped. */
  staleSince: number | undefined;
  readonly etcdWatchLagSeconds: Gauge;
  readonly etcdProbeSeconds: Histogram;
  readonly etcdProbeFailures: Counter;
  readonly etcdEvents: Counter<'kind'>;
  readonly etcdRelists: Counter<'reason'>;
  readonly invalidRegistrations: Gauge;
  readonly invalidRegistrationsTotal: Counter;
  readonly invalidPolicies: Gauge;
  readonly invalidPoliciesTotal: Counter;
  readonly services: Gauge;
  readonly instances: Gauge;

  // cache/
  readonly catalogRevision: Gauge;
  readonly snapshots: Counter;
  readonly snapshotBuildSeconds: Histogram;
  readonly rebuildSeconds: Histogram;
  readonly resources: Gauge<'type'>;
  readonly views: Gauge;

  // server/
  readonly connectedStreams: Gauge<'client'>;
  readonly requests: Counter<'type' | 'outcome'>;
  /** requests, counted in batches (key `${type} ${outcome}`). */
  readonly requestCounts: CountBatch<'type' | 'outcome'>;
  readonly pushes: Counter<'type'>;
  /** pushes, counted in batches (key: the type). */
  readonly pushCounts: CountBatch<'type'>;
  readonly pushLatencySeconds: FastHistogram<'type'>;
  readonly convergenceSeconds: FastHistogram<'type'>;
  readonly pushedResources: Counter<'type'>;
  /** pushedResources, counted in batches (key: the type). */
  readonly pushedResourceCounts: CountBatch<'type'>;
  readonly nacks: Counter<'type'>;
  readonly refusedRequests: Counter<'reason'>;
  readonly heldPushes: Counter<'reason'>;

  // admin/
  readonly adminRefusedRequests: Counter<'endpoint'>;
  readonly adminViewBuilds: Counter<'view'>;
  readonly stalledStreams: Gauge;
  /** Streams with a push held because their client is not reading; set by the server, read at scrape. */
  countStalledStreams: () => number = () => 0;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const registers = [registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'etcd_xds_' });

    this.etcdWatchRevision = new Gauge({
      name: 'etcd_xds_etcd_watch_revision',
      help: 'Latest etcd revision the registry has applied.',
      registers,
    });
    this.registryStale = new Gauge({
      name: 'etcd_xds_registry_stale',
      help: '1 while the registry cannot reach etcd and serves its last known catalog, else 0.',
      registers,
    });
    const staleSeconds = (): number =>
      this.staleSince === undefined ? 0 : (Date.now() - this.staleSince) / 1000;
    this.registryStaleSeconds = new Gauge({
      name: 'etcd_xds_registry_stale_seconds',
      help: 'How long the registry has been stale (etcd unreachable, last catalog served); 0 when not.',
      registers,
      collect() {
        this.set(staleSeconds());
      },
    });
    this.etcdWatchLagSeconds = new Gauge({
      name: 'etcd_xds_etcd_watch_lag_seconds',
      help: 'How long etcd has had changes under the watched prefixes that the watch has not delivered; 0 when none.',
      registers,
    });
    this.etcdProbeSeconds = new Histogram({
      name: 'etcd_xds_etcd_probe_seconds',
      help: 'Latency of the periodic etcd probe (two small range requests).',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.etcdProbeFailures = new Counter({
      name: 'etcd_xds_etcd_probe_failures_total',
      help: 'Periodic etcd probes that failed or timed out.',
      registers,
    });
    this.etcdEvents = new Counter({
      name: 'etcd_xds_etcd_events_total',
      help: 'etcd watch events applied, by kind (put, delete).',
      labelNames: ['kind'],
      registers,
    });
    this.etcdRelists = new Counter({
      name: 'etcd_xds_etcd_relists_total',
      help: 'Full re-lists of the watched prefixes, by reason (start, watch-lost, compacted).',
      labelNames: ['reason'],
      registers,
    });
    this.invalidRegistrations = new Gauge({
      name: 'etcd_xds_invalid_registrations',
      help: 'Registration keys currently skipped because their value is invalid.',
      registers,
    });
    this.invalidRegistrationsTotal = new Counter({
      name: 'etcd_xds_invalid_registrations_total',
      help: 'Invalid registration values seen (each put of an invalid value counts).',
      registers,
    });
    this.invalidPolicies = new Gauge({
      name: 'etcd_xds_invalid_policies',
      help: 'Policy keys currently ignored because their value is invalid.',
      registers,
    });
    this.invalidPoliciesTotal = new Counter({
      name: 'etcd_xds_invalid_policies_total',
      help: 'Invalid policy values seen (each put of an invalid value counts).',
      registers,
    });
    this.services = new Gauge({ name: 'etcd_xds_services', help: 'Services in the catalog.', registers });
    this.instances = new Gauge({
      name: 'etcd_xds_instances',
      help: 'Valid registered instances.',
      registers,
    });

    this.catalogRevision = new Gauge({
      name: 'etcd_xds_catalog_revision',
      help: 'etcd revision of the catalog behind the resources being served.',
      registers,
    });
    this.views = new Gauge({
      name: 'etcd_xds_views',
      help: 'Distinct views (resources differing by flavour or by caller routes) served to connected clients.',
      registers,
    });
    this.snapshots = new Counter({
      name: 'etcd_xds_snapshots_total',
      help: 'Resource snapshots built (after coalescing etcd events).',
      registers,
    });
    this.snapshotBuildSeconds = new Histogram({
      name: 'etcd_xds_snapshot_build_seconds',
      help: 'Time to translate a catalog and encode its resources.',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.rebuildSeconds = new Histogram({
      name: 'etcd_xds_rebuild_seconds',
      help: 'Time from a new catalog to every view rebuilt and every stream group told what changed (before pushes go out).',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.resources = new Gauge({
      name: 'etcd_xds_resources',
      help: 'Resources in the current snapshot, by type (CDS, EDS, LDS, RDS).',
      labelNames: ['type'],
      registers,
    });

    this.connectedStreams = new Gauge({
      name: 'etcd_xds_connected_streams',
      help: 'Open xDS streams, by client (grpc-js, grpc-c-core, grpc-go, grpc-java, envoy, other).',
      labelNames: ['client'],
      registers,
    });
    this.requestCounts = new CountBatch({
      name: 'etcd_xds_requests_total',
      help: 'DiscoveryRequests received, by type and outcome (initial, ack, nack, resubscribe, stale, unknown-type).',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.requests = this.requestCounts.counter;
    this.pushCounts = new CountBatch({
      name: 'etcd_xds_pushes_total',
      help: 'DiscoveryResponses sent, by type.',
      labelNames: ['type'],
      registers,
    });
    this.pushes = this.pushCounts.counter;
    const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.pushLatencySeconds = new FastHistogram(
      'etcd_xds_push_latency_seconds',
      'From seeing an etcd change to writing the response that carries it, by type (debounce included).',
      'type',
      latencyBuckets,
      registers,
    );
    this.convergenceSeconds = new FastHistogram(
      'etcd_xds_convergence_seconds',
      'From seeing an etcd change to the client ACKing the response that carries it, by type.',
      'type',
      latencyBuckets,
      registers,
    );
    this.pushedResourceCounts = new CountBatch({
      name: 'etcd_xds_pushed_resources_total',
      help: 'Resources carried by DiscoveryResponses, by type.',
      labelNames: ['type'],
      registers,
    });
    this.pushedResources = this.pushedResourceCounts.counter;
    this.refusedRequests = new Counter({
      name: 'etcd_xds_refused_requests_total',
      help: 'Streams ended (or refused) for breaking a limit, by reason (name-too-long, too-many-names, too-many-subscriptions, too-many-held, too-many-streams, stalled).',
      labelNames: ['reason'],
      registers,
    });
    this.heldPushes = new Counter({
      name: 'etcd_xds_held_pushes_total',
      help: 'Pushes not written to a stream at once, because its client had not read earlier responses (not-reading) or was backing off after NACKs (nack-backoff); it later gets the latest state instead.',
      labelNames: ['reason'],
      registers,
    });
    this.adminRefusedRequests = new Counter({
      name: 'etcd_xds_admin_refused_requests_total',
      help: 'Heavy admin requests refused (HTTP 503, gRPC RESOURCE_EXHAUSTED) because --max-admin-requests were running, by endpoint (config_dump, clients, csds).',
      labelNames: ['endpoint'],
      registers,
    });
    this.adminViewBuilds = new Counter({
      name: 'etcd_xds_admin_view_builds_total',
      help: 'Admin views built, by view (config_dump, clients, csds); concurrent requests for the same state share one build.',
      labelNames: ['view'],
      registers,
    });
    const stalled = (): number => this.countStalledStreams();
    this.stalledStreams = new Gauge({
      name: 'etcd_xds_stalled_streams',
      help: 'Streams whose client has not read its earlier responses while a newer push waits for it.',
      registers,
      collect() {
        this.set(stalled());
      },
    });
    this.nacks = new Counter({
      name: 'etcd_xds_nacks_total',
      help: 'Responses rejected by clients (NACKs), by type.',
      labelNames: ['type'],
      registers,
    });
  }
}
