// Owns etcd: lists the registration and policy prefixes at one revision, watches both from the
// next revision, and emits a Catalog after every change. Re-lists whenever a watch breaks
// (disconnect, leader change, compaction). Never turns "etcd is unreachable" into "no
// instances": the last catalog stays in force and the registry reports itself stale.
import type { Etcd3, IKeyValue, IRangeResponse, IWatchResponse } from 'etcd3';
import { GRPCResourceExhastedError, Range } from 'etcd3';
import type { Logger } from 'pino';
import { ErrorCode } from '../errors';
import type { Metrics } from '../metrics';
import { CatalogBuilder, type Catalog, type ChangeOutcome } from './catalog';

/**
 * Keys in the first list page. Each page costs etcd a walk of the rest of the range (it counts
 * what remains), so small pages make a list quadratic: 100k keys take 2.2 s in pages of 1,000 and
 * 0.8–1.0 s in pages of 10,000 (~2 MB of typical registrations). Later pages are sized from the
 * bytes per key seen so far to about PAGE_BYTES, up to MAX_PAGE_KEYS: 1,000,000 keys list in
 * 4.7–5.5 s in pages of 100,000 against 11.7–13.9 s in pages of 10,000.
 */
const DEFAULT_PAGE_SIZE = 10_000;
/** What a list page after the first aims at: a quarter of the client's 64 MiB message limit. */
const PAGE_BYTES = 16 * 2 ** 20;
const MAX_PAGE_KEYS = 100_000;

export interface EtcdRegistryOptions {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly policyPrefix: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly onCatalog: (catalog: Catalog) => void;
  /**
   * Keys per range request while listing, fixed (halved while a page is too large). Default:
   * 10,000 in the first page, later pages sized to ~16 MiB by the bytes per key seen.
   */
  readonly pageSize?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How often to check that the watch is not missing changes etcd has (0: never). */
  readonly probeIntervalMs?: number;
  /** Re-list when the watch has lagged behind etcd this long. */
  readonly maxWatchLagMs?: number;
}

export interface RegistryStatus {
  /** A complete list has been applied at least once. */
  readonly synced: boolean;
  /** The last catalog may be out of date: etcd is unreachable or the watch is being re-established. */
  readonly stale: boolean;
  readonly revision: number;
  readonly lastError: string | undefined;
  readonly staleSince: number | undefined;
}

type Source = 'registration' | 'policy';

export class EtcdRegistry {
  private readonly builder: CatalogBuilder;
  /**
   * Keys in a first list page (in every page when fixed); halved for good whenever a page exceeds
   * the client's message limit.
   */
  private pageSize: number;
  /** Later pages are sized by bytes per key (pageSize was not given); never over pageCap keys. */
  private readonly adaptivePages: boolean;
  private pageCap = MAX_PAGE_KEYS;
  private synced = false;
  private stale = true;
  private staleSince: number | undefined = Date.now();
  private revision = 0;
  /** Revision each watch has delivered up to (the two prefixes are watched separately). */
  private readonly applied: Record<Source, number> = { registration: 0, policy: 0 };
  private watching = false;
  /**
   * Per prefix, a change the probe found that the watch had not delivered (its revision) and when
   * it was found; cleared once the watch delivers past it.
   */
  private readonly behind: Record<Source, { readonly revision: number; readonly since: number } | undefined> =
    {
      registration: undefined,
      policy: undefined,
    };
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopWatchWith: ((error?: Error) => void) | undefined;
  private lastError: string | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: EtcdRegistryOptions) {
    this.builder = new CatalogBuilder(options.policyPrefix);
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.adaptivePages = options.pageSize === undefined;
  }

  status(): RegistryStatus {
    return {
      synced: this.synced,
      stale: this.stale,
      revision: this.revision,
      lastError: this.lastError,
      staleSince: this.stale ? this.staleSince : undefined,
    };
  }

  /** Starts listing and watching in the background. */
  start(): void {
    this.running ??= this.run();
    const interval = this.options.probeIntervalMs ?? 5_000;
    if (interval > 0 && this.probeTimer === undefined) {
      this.probeTimer = setInterval(() => void this.probe(), interval);
      this.probeTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    this.stopWatchWith?.();
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    const { logger, metrics } = this.options;
    const minBackoff = this.options.minBackoffMs ?? 100;
    // Short: once etcd is back, a re-list within ~0.5 s brings every client up to date.
    const maxBackoff = this.options.maxBackoffMs ?? 500;
    let backoff = minBackoff;
    let reason = 'start';
    // While etcd stays down the loop retries every ~0.5 s: log the first failure, a changed
    // error, and then a reminder every 30 s, not every attempt.
    let failures = 0;
    let loggedError: string | undefined;
    let loggedAt = 0;
    while (!this.stopped) {
      try {
        metrics.etcdRelists.inc({ reason });
        const revision = await this.list();
        backoff = minBackoff;
        failures = 0;
        loggedError = undefined;
        await this.watch(revision + 1);
        reason = 'watch-lost';
      } catch (error) {
        if (this.stopped) break;
        const message = (error as Error).message ?? String(error);
        reason = /compacted/i.test(message) ? 'compacted' : 'watch-lost';
        this.markStale(message);
        failures += 1;
        if (message !== loggedError || Date.now() - loggedAt >= 30_000) {
          logger.warn(
            { code: ErrorCode.EtcdUnavailable, err: message, failures, retryInMs: backoff },
            'etcd list/watch failed; serving the last known catalog',
          );
          loggedError = message;
          loggedAt = Date.now();
        }
        await this.sleep(backoff * (0.8 + Math.random() * 0.4));
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  }

  /** Lists both prefixes at one revision and replaces the catalog; returns that revision. */
  private async list(): Promise<number> {
    const { prefix, policyPrefix, logger } = this.options;
    // Pages are applied as they arrive (parsing one while etcd reads the next). Nothing reads the
    // builder until emit(), and a failed list is retried from clear(), so a partial list is never
    // served.
    this.builder.clear();
    let registrations = 0;
    let policies = 0;
    let pages = 0;
    const revision = await this.listPrefix(prefix, undefined, (kvs) => {
      for (const kv of kvs) this.apply('registration', 'put', kv);
      registrations += kvs.length;
      pages++;
    });
    await this.listPrefix(policyPrefix, revision, (kvs) => {
      for (const kv of kvs) this.apply('policy', 'put', kv);
      policies += kvs.length;
      pages++;
    });
    this.revision = revision;
    this.applied.registration = revision;
    this.applied.policy = revision;
    this.synced = true;
    this.stale = false;
    this.staleSince = undefined;
    this.lastError = undefined;
    this.options.metrics.registryStale.set(0);
    this.options.metrics.staleSince = undefined;
    logger.info({ revision, registrations, policies, pages }, 'listed etcd');
    this.emit(performance.now());
    return revision;
  }

  /**
   * Reads every key under `prefix` in pages, all at one revision (that of the first page, unless
   * given), handing each page to `onPage` while the next one is being read; returns the revision.
   * A page too large for the client's message limit is read again in halves.
   */
  private async listPrefix(
    prefix: string,
    atRevision: number | undefined,
    onPage: (kvs: IKeyValue[]) => void,
  ): Promise<number> {
    const end = Range.prefix(prefix).end;
    let revision = atRevision;
    let size = this.pageSize;
    let bytes = 0;
    let keys = 0;
    const read = async (start: Buffer): Promise<IRangeResponse> => {
      for (;;) {
        let request = this.options.client.getAll().inRange(new Range(start, end)).limit(size);
        if (revision !== undefined) request = request.revision(revision);
        try {
          return await request.exec();
        } catch (error) {
          if (!(error instanceof GRPCResourceExhastedError) || size === 1) throw error;
          // Kept for later lists too, so a failing list still makes progress when retried.
          size = Math.ceil(size / 2);
          this.pageCap = size;
          this.pageSize = Math.min(this.pageSize, size);
          this.options.logger.info(
            { prefix, pageSize: size },
            'an etcd list page exceeded the message size limit; reading smaller pages',
          );
        }
      }
    };
    let pending = read(Buffer.from(prefix));
    for (;;) {
      const page = await pending;
      // Every page is read at the revision of the first, so the list is one consistent cut.
      revision ??= Number(page.header.revision);
      const done = !page.more || page.kvs.length === 0;
      if (!done) {
        if (this.adaptivePages) {
          for (const kv of page.kvs) bytes += kv.key.length + kv.value.length;
          keys += page.kvs.length;
          size = Math.max(1, Math.min(this.pageCap, Math.floor(PAGE_BYTES / (bytes / keys))));
        }
        pending = read(Buffer.concat([page.kvs[page.kvs.length - 1].key, Buffer.from([0])]));
        // Awaited on the next turn of the loop; until then a failure must not count as unhandled.
        pending.catch(() => undefined);
      }
      onPage(page.kvs);
      if (done) return revision;
    }
  }

  /**
   * Watches both prefixes from `fromRevision` on one etcd watch stream; resolves on stop, rejects
   * when the watch breaks (stream error or end, or etcd cancelling a watch, e.g. compacted).
   * The Watch API is used directly: etcd3's watch manager re-creates watches itself after a
   * reconnect, which we do not want (we re-list), and throws from a stream handler — crashing
   * the process — when a response arrives for a watch it has already dropped.
   */
  private async watch(fromRevision: number): Promise<void> {
    const { client, prefix, policyPrefix } = this.options;
    const stream = await client.watchClient.watch();
    return new Promise<void>((resolve, reject) => {
      // Client-chosen watch ids (etcd >= 3.4): responses say which prefix they are about.
      const sources = new Map<string, Source>([
        ['1', 'registration'],
        ['2', 'policy'],
      ]);
      let finished = false;
      const finish = (error?: Error): void => {
        if (finished) return;
        finished = true;
        this.watching = false;
        this.stopWatchWith = undefined;
        stream.cancel();
        if (error) reject(error);
        else resolve();
      };
      this.stopWatchWith = finish;
      this.watching = true;
      this.behind.registration = undefined;
      this.behind.policy = undefined;
      stream.on('data', (response: IWatchResponse) => {
        if (finished) return;
        if (response.canceled) {
          const compacted = response.compact_revision !== '0' && response.compact_revision !== '';
          finish(
            new Error(
              compacted
                ? `watch compacted: etcd has no history before revision ${response.compact_revision}`
                : `etcd cancelled the watch: ${response.cancel_reason || 'no reason given'}`,
            ),
          );
          return;
        }
        const source = sources.get(String(response.watch_id));
        if (source !== undefined && !response.created) this.onWatchResponse(source, response);
      });
      stream.on('error', (error) => finish(error));
      stream.on('end', () => finish(new Error('etcd closed the watch stream')));
      for (const [id, source] of sources) {
        const range = Range.prefix(source === 'registration' ? prefix : policyPrefix);
        stream.write({
          create_request: {
            key: range.start,
            range_end: range.end,
            start_revision: fromRevision,
            progress_notify: true,
            watch_id: id,
          },
        });
      }
      if (this.stopped) finish();
    });
  }

  private onWatchResponse(source: Source, response: IWatchResponse): void {
    const revision = Number(response.header.revision);
    if (revision > this.applied[source]) this.applied[source] = revision;
    if (revision > this.revision) {
      this.revision = revision;
      this.options.metrics.etcdWatchRevision.set(revision);
    }
    if (response.events.length === 0) return; // progress notification
    this.options.logger.debug({ source, revision, events: response.events.length }, 'etcd events');
    const observedAt = performance.now();
    for (const event of response.events) {
      this.apply(source, event.type === 'Delete' ? 'delete' : 'put', event.kv);
      this.options.metrics.etcdEvents.inc({ kind: event.type === 'Delete' ? 'delete' : 'put' });
    }
    this.emit(observedAt);
  }

  private apply(source: Source, kind: 'put' | 'delete', kv: IKeyValue): void {
    const key = kv.key.toString();
    let outcome: ChangeOutcome;
    if (source === 'registration') {
      outcome =
        kind === 'put' ? this.builder.putRegistration(key, kv.value) : this.builder.deleteRegistration(key);
    } else {
      outcome = kind === 'put' ? this.builder.putPolicy(key, kv.value) : this.builder.deletePolicy(key);
    }
    if (outcome.kind === 'rejected') {
      const { metrics, logger } = this.options;
      (source === 'registration' ? metrics.invalidRegistrationsTotal : metrics.invalidPoliciesTotal).inc();
      logger.warn(
        { key, code: outcome.problem.code, error: outcome.problem.message },
        source === 'registration'
          ? 'skipping invalid registration'
          : 'ignoring invalid policy; the service uses the defaults',
      );
    }
  }

  /** @param observedAt when the change was seen (performance.now()), for latency metrics. */
  private emit(observedAt: number): void {
    const catalog = this.builder.snapshot(this.revision, observedAt);
    const { metrics } = this.options;
    metrics.etcdWatchRevision.set(this.revision);
    metrics.services.set(catalog.services.size);
    metrics.instances.set(catalog.instanceCount);
    let registrations = 0;
    for (const rejection of catalog.rejected.values()) if (rejection.kind === 'registration') registrations++;
    metrics.invalidRegistrations.set(registrations);
    metrics.invalidPolicies.set(catalog.rejected.size - registrations);
    this.options.onCatalog(catalog);
  }

  /**
   * Asks etcd whether either prefix has a key modified after what its watch delivered. A watch can
   * stall without erroring (a half-open connection); when it has not delivered such a change
   * `maxWatchLagMs` after a probe found it, the registry re-lists. Deletions are not visible to
   * this check; the TCP keepalive covers the connection itself.
   */
  private async probe(): Promise<void> {
    if (!this.watching || this.probing) return;
    this.probing = true;
    const { client, prefix, policyPrefix, metrics, logger } = this.options;
    const maxLagMs = this.options.maxWatchLagMs ?? 10_000;
    const started = performance.now();
    try {
      const sources: readonly [Source, string][] = [
        ['registration', prefix],
        ['policy', policyPrefix],
      ];
      const pending = await withTimeout(
        Promise.all(
          sources.map(([source, keys]) =>
            client
              .getAll()
              .prefix(keys)
              .minModRevision(this.applied[source] + 1)
              .limit(1)
              .exec(),
          ),
        ),
        5_000,
      );
      const now = performance.now();
      metrics.etcdProbeSeconds.observe((now - started) / 1000);
      // Lagging means not delivering a change etcd had maxLagMs ago, not merely having changes in
      // flight: under a steady stream of writes every probe finds some (written since the last
      // event delivered), and a healthy watch delivers them within milliseconds.
      let lagMs = 0;
      sources.forEach(([source], i) => {
        const found = pending[i].kvs[0];
        const behind = this.behind[source];
        if (found === undefined) this.behind[source] = undefined;
        else if (behind === undefined || this.applied[source] >= behind.revision)
          this.behind[source] = { revision: Number(found.mod_revision), since: now };
        lagMs = Math.max(lagMs, now - (this.behind[source]?.since ?? now));
      });
      metrics.etcdWatchLagSeconds.set(lagMs / 1000);
      if (lagMs > maxLagMs) {
        logger.warn(
          { lagMs: Math.round(lagMs), revision: this.revision },
          'the etcd watch is missing changes; re-listing',
        );
        this.behind.registration = undefined;
        this.behind.policy = undefined;
        this.stopWatchWith?.(new Error(`the watch lagged behind etcd for ${Math.round(lagMs)} ms`));
      }
    } catch (error) {
      metrics.etcdProbeFailures.inc();
      logger.debug({ err: (error as Error).message }, 'etcd probe failed');
    } finally {
      this.probing = false;
    }
  }

  private markStale(error: string): void {
    if (!this.stale) this.staleSince = Date.now();
    this.stale = true;
    this.lastError = error;
    this.options.metrics.registryStale.set(1);
    this.options.metrics.staleSince = this.staleSince;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`etcd did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
