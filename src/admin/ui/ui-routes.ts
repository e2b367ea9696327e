// GET /ui: the live dashboard (contract §12). The page reads small paged JSON from /ui/api/* and
// listens to /ui/events (server-sent events): a `state` event with the summary whenever something
// changed, at most every LIVE_TICK_MS, which tells it which page to fetch again. So a browser
// costs the server one summary per change, and one page of rows per change of what it shows.
import type { FastifyInstance, FastifyReply } from 'fastify';
import sse from '@fastify/sse';
import type { Logger } from 'pino';
import type { Catalog } from '../../registry/catalog';
import type { RegistryStatus } from '../../registry/etcd-registry';
import type { StreamView } from '../../server/xds-server';
import type { ExplainCall, Explanation } from '../explain';
import type { CallerLabels } from '../../translate/caller-labels';
import { BadQuery, parseQuery, values, type Query } from '../query';
import { loadAssets, PAGE_AT_UI, type Asset } from './assets';
import {
  CLIENT_STATES,
  clientsPage,
  MAX_PAGE,
  rejectedPage,
  servicesPage,
  summary,
  type ClientState,
  type PageRequest,
} from './dashboard-data';
import type { LatencyTimeline } from './latency-timeline';

export interface DashboardSources {
  /** Explains a call (contract §11); undefined before the first catalog. */
  readonly explain: ExplainCall;
  /** The catalog the served snapshots were translated from (what explain reads). */
  readonly catalog: () => Catalog | undefined;
  readonly registry: () => RegistryStatus;
  readonly streams: () => readonly StreamView[];
  readonly clientsVersion: () => number;
  readonly timeline: LatencyTimeline;
  readonly logger: Logger;
}

/** How often the live feed looks for changes while some page listens. */
export const LIVE_TICK_MS = 500;

/** A filter longer than this is refused (names are far shorter). */
const MAX_FILTER = 256;

function pageRequest(query: Query, extra: readonly string[] = []): PageRequest {
  const known = ['offset', 'limit', 'filter', ...extra];
  for (const name of Object.keys(query))
    if (!known.includes(name))
      throw new BadQuery(`unknown parameter ${JSON.stringify(name)} (${known.join(', ')})`);
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const text = single(query, name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max)
      throw new BadQuery(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
    return value;
  };
  const filter = single(query, 'filter');
  if (filter !== undefined && filter.length > MAX_FILTER)
    throw new BadQuery(`filter must be at most ${MAX_FILTER} characters`);
  return {
    offset: integer('offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: integer('limit', 50, 1, MAX_PAGE),
    filter,
  };
}

function single(query: Query, name: string): string | undefined {
  const given = values(query, name, false);
  if (given !== undefined && given.length !== 1) throw new BadQuery(`${name} must be given once`);
  return given?.[0];
}

function clientsRequest(query: Query): PageRequest & { state?: ClientState } {
  const request = pageRequest(query, ['state']);
  const state = single(query, 'state');
  if (state !== undefined && !(CLIENT_STATES as readonly string[]).includes(state))
    throw new BadQuery(`state must be one of ${CLIENT_STATES.join(', ')}, not ${JSON.stringify(state)}`);
  return { ...request, state: state as ClientState | undefined };
}

/** The dashboard's routes, as a Fastify plugin: `app.register(dashboard(sources))`. */
export function dashboard(sources: DashboardSources) {
  return async (app: FastifyInstance): Promise<void> => {
    // Events carry JSON the feed has already serialised once for every page.
    await app.register(sse, { heartbeatInterval: HEARTBEAT_MS, serializer: (data: string) => data });
    routes(app, sources);
  };
}

/** A comment line on idle event streams, so proxies and browsers keep them open. */
const HEARTBEAT_MS = 15_000;

/** Where calls without headers from a client without labels go, per service, per catalog translated. */
class DefaultSplits {
  private catalog: Catalog | undefined;
  private readonly byService = new Map<string, Explanation | undefined>();
  private static readonly NO_LABELS: CallerLabels = new Map();

  constructor(private readonly sources: DashboardSources) {}

  explain(service: string): Explanation | undefined {
    const catalog = this.sources.catalog();
    if (catalog !== this.catalog) {
      this.catalog = catalog;
      this.byService.clear();
    }
    if (this.byService.has(service)) return this.byService.get(service);
    const answer = this.sources.explain(DefaultSplits.NO_LABELS, {
      service,
      headers: new Map(),
      method: undefined,
    });
    const explanation = typeof answer === 'object' ? answer : undefined;
    // One page of services at a time is what is asked; a bounded memo holds a few pages.
    if (this.byService.size >= 1_000) this.byService.clear();
    this.byService.set(service, explanation);
    return explanation;
  }
}

function routes(app: FastifyInstance, sources: DashboardSources): void {
  // A missing file (a broken install) disables the page, not the control plane.
  let assets: ReadonlyMap<string, Asset> | undefined;
  try {
    assets = loadAssets();
  } catch (error) {
    sources.logger.error({ err: error }, 'the dashboard files are missing: /ui is unavailable');
  }
  const splits = new DefaultSplits(sources);

  const serveAsset = (name: string, ifNoneMatch: string | undefined, reply: FastifyReply) => {
    if (assets === undefined)
      return reply.code(503).send({ error: 'the dashboard files are missing from this installation' });
    const asset = assets.get(name);
    if (asset === undefined) return reply.code(404).send({ error: `no such file: /ui/${name}` });
    reply
      .header('etag', asset.etag)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff');
    if (ifNoneMatch === asset.etag) return reply.code(304).send();
    return reply.type(asset.contentType).send(asset.body);
  };
  // The page links everything relative to /ui/ (so it works behind a path prefix, as under
  // `kubectl proxy`); at /ui it is served with a base that says so.
  app.get('/ui', (request, reply) => serveAsset(PAGE_AT_UI, request.headers['if-none-match'], reply));
  app.get<{ Params: { '*': string } }>('/ui/*', (request, reply) =>
    serveAsset(request.params['*'], request.headers['if-none-match'], reply),
  );

  const paged = <R>(path: string, parse: (query: Query) => R, build: (request: R) => unknown) =>
    app.get<{ Querystring: Query }>(path, (request, reply) => {
      const parsed = parseQuery(reply, () => parse(request.query));
      if (parsed === undefined) return reply;
      return reply.header('cache-control', 'no-store').send(build(parsed));
    });
  paged('/ui/api/services', pageRequest, (request) =>
    servicesPage(sources.catalog(), request, (service) => splits.explain(service)),
  );
  paged('/ui/api/rejected', pageRequest, (request) => rejectedPage(sources.catalog(), request));
  paged('/ui/api/clients', clientsRequest, (request) =>
    clientsPage(sources.streams(), request, sources.timeline),
  );

  const feed = new LiveFeed(sources);
  app.get('/ui/api/summary', (_request, reply) =>
    reply.header('cache-control', 'no-store').send(feed.state()),
  );
  app.get('/ui/events', { sse: 'only' }, async (_request, reply) => {
    reply.sse.keepAlive();
    await feed.add(reply);
  });
  // Before the server waits for its connections to end: event streams never would.
  app.addHook('preClose', (done) => {
    feed.close();
    done();
  });
}

export interface LiveState extends ReturnType<typeof summary> {
  /** Changes whenever some client's state does (the clients page is then fetched again). */
  readonly clientsVersion: number;
}

/** A page whose connection has taken nothing for this long is closed (asleep, or gone). */
const BLOCKED_PAGE_MS = 30_000;

/**
 * Sends the summary to every open page when it changed, at most every LIVE_TICK_MS. A page whose
 * connection has not taken the last event is skipped (nothing queues up behind it) and sent the
 * latest state once it has; one blocked for BLOCKED_PAGE_MS is closed.
 */
class LiveFeed {
  /** Open pages, and since when each has had an event waiting in its connection (else undefined). */
  private readonly pages = new Map<FastifyReply, number | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private lastKey = '';
  private lastBody = '';
  /** Pages that were skipped and have not been sent lastBody yet. */
  private readonly behind = new Set<FastifyReply>();

  constructor(private readonly sources: DashboardSources) {}

  state(): LiveState {
    const { sources } = this;
    return {
      ...summary(sources.catalog(), sources.registry(), sources.streams(), sources.timeline),
      clientsVersion: sources.clientsVersion(),
    };
  }

  /** Sends `reply` the state now and whenever it changes, until the page goes. */
  async add(reply: FastifyReply): Promise<void> {
    // Closed before we got here: its close callbacks have already run.
    if (!reply.sse.isConnected || reply.raw.destroyed) return;
    this.pages.set(reply, undefined);
    reply.sse.onClose(() => this.remove(reply));
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), LIVE_TICK_MS);
      this.timer.unref();
    }
    await reply.sse.send({ event: 'state', data: JSON.stringify(this.state()), retry: 1_000 });
  }

  close(): void {
    for (const reply of [...this.pages.keys()]) reply.sse.close();
    this.pages.clear();
    this.behind.clear();
    this.stopTimer();
  }

  private remove(reply: FastifyReply): void {
    this.pages.delete(reply);
    this.behind.delete(reply);
    if (this.pages.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const { sources } = this;
    // Cheap first: nothing is built while the catalog, the clients and the registry are as they were
    // and no latency sample arrived.
    const catalog = sources.catalog();
    const key = [
      catalog?.revision,
      catalog?.rejected.size,
      sources.clientsVersion(),
      JSON.stringify(sources.registry()),
      sources.timeline.samples,
      // The chart moves on every bucket, samples or not.
      Math.floor(Date.now() / sources.timeline.bucketMs),
    ].join(' ');
    if (key !== this.lastKey) {
      this.lastKey = key;
      const body = JSON.stringify(this.state());
      if (body !== this.lastBody) {
        this.lastBody = body;
        for (const reply of this.pages.keys()) this.behind.add(reply);
      }
    }
    if (this.behind.size > 0) this.sendLatest();
  }

  /** lastBody to every page behind whose connection can take it. */
  private sendLatest(): void {
    const now = Date.now();
    for (const reply of [...this.behind]) {
      if (!reply.sse.isConnected) {
        this.remove(reply);
        continue;
      }
      if (reply.raw.writableNeedDrain) {
        const since = this.pages.get(reply) ?? now;
        this.pages.set(reply, since);
        if (now - since >= BLOCKED_PAGE_MS) {
          reply.sse.close();
          this.remove(reply);
        }
        continue;
      }
      this.pages.set(reply, undefined);
      this.behind.delete(reply);
      // One serialisation for every page; a failed write ends that page's stream.
      reply.sse.send({ event: 'state', data: this.lastBody }).catch(() => {
        reply.sse.close();
        this.remove(reply);
      });
    }
  }
}
