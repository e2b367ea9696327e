// GET /ui: the live dashboard (contract §12). The page reads small paged JSON from /ui/api/* and
// listens to /ui/events (server-sent events): a `state` event with the summary whenever something
// changed, at most every LIVE_TICK_MS, which tells it which page to fetch again. So a browser
// costs the server one summary per change, and one page of rows per change of what it shows.
import type { FastifyInstance, FastifyReply } from 'fastify';
import sse from '@fastify/sse';
import type { Catalog } from '../../registry/catalog';
import type { RegistryStatus } from '../../registry/etcd-registry';
import type { StreamView } from '../../server/xds-server';
import type { Explanation, ExplainRequest } from '../explain';
import type { CallerLabels } from '../../translate/caller-labels';
import { loadAssets } from './assets';
import {
  clientsPage,
  MAX_PAGE,
  rejectedPage,
  servicesPage,
  summary,
  type PageRequest,
} from './dashboard-data';
import type { LatencyTimeline } from './latency-timeline';

export interface DashboardSources {
  readonly explain: (
    caller: CallerLabels,
    request: ExplainRequest,
  ) => Explanation | 'no-such-service' | undefined;
  /** The catalog the served snapshots were translated from (what explain reads). */
  readonly catalog: () => Catalog | undefined;
  readonly registry: () => RegistryStatus;
  readonly streams: () => readonly StreamView[];
  readonly clientsVersion: () => number;
  readonly timeline: LatencyTimeline;
}

/** How often the live feed looks for changes while some page listens. */
export const LIVE_TICK_MS = 500;

/** A filter longer than this is refused (names are far shorter). */
const MAX_FILTER = 256;

type Query = Record<string, string | string[] | undefined>;

class BadPageQuery extends Error {}

function pageRequest(query: Query): PageRequest {
  const single = (name: string): string | undefined => {
    const value = query[name];
    if (Array.isArray(value)) throw new BadPageQuery(`${name} must be given once`);
    return value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const text = single(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max)
      throw new BadPageQuery(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
    return value;
  };
  for (const name of Object.keys(query))
    if (!['offset', 'limit', 'filter'].includes(name))
      throw new BadPageQuery(`unknown parameter ${JSON.stringify(name)} (offset, limit, filter)`);
  const filter = single('filter');
  if (filter !== undefined && filter.length > MAX_FILTER)
    throw new BadPageQuery(`filter must be at most ${MAX_FILTER} characters`);
  return {
    offset: integer('offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: integer('limit', 50, 1, MAX_PAGE),
    filter,
  };
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

function routes(app: FastifyInstance, sources: DashboardSources): void {
  const assets = loadAssets();
  const noLabels: CallerLabels = new Map();
  const defaultCall = (service: string): Explanation | undefined => {
    const answer = sources.explain(noLabels, { service, headers: new Map(), method: undefined });
    return typeof answer === 'object' ? answer : undefined;
  };

  const serveAsset = (name: string, ifNoneMatch: string | undefined, reply: FastifyReply) => {
    const asset = assets.get(name);
    if (asset === undefined) return reply.code(404).send({ error: `no such file: /ui/${name}` });
    reply.header('etag', asset.etag).header('cache-control', 'no-cache');
    if (ifNoneMatch === asset.etag) return reply.code(304).send();
    return reply.type(asset.contentType).send(asset.body);
  };
  app.get('/ui', (request, reply) => serveAsset('', request.headers['if-none-match'], reply));
  app.get<{ Params: { '*': string } }>('/ui/*', (request, reply) =>
    serveAsset(request.params['*'], request.headers['if-none-match'], reply),
  );

  const paged = <T>(path: string, build: (request: PageRequest) => T) =>
    app.get<{ Querystring: Query }>(path, (request, reply) => {
      let parsed: PageRequest;
      try {
        parsed = pageRequest(request.query);
      } catch (error) {
        if (!(error instanceof BadPageQuery)) throw error;
        return reply.code(400).send({ error: error.message });
      }
      return reply.header('cache-control', 'no-store').send(build(parsed));
    });
  paged('/ui/api/services', (request) => servicesPage(sources.catalog(), request, defaultCall));
  paged('/ui/api/rejected', (request) => rejectedPage(sources.catalog(), request));
  paged('/ui/api/clients', (request) => clientsPage(sources.streams(), request, sources.timeline));

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

/** Broadcasts the summary to every open page when it changed, at most every LIVE_TICK_MS. */
class LiveFeed {
  private readonly pages = new Set<FastifyReply>();
  private timer: NodeJS.Timeout | undefined;
  private lastKey = '';
  private lastBody = '';

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
    this.pages.add(reply);
    reply.sse.onClose(() => {
      this.pages.delete(reply);
      if (this.pages.size > 0 || this.timer === undefined) return;
      clearInterval(this.timer);
      this.timer = undefined;
    });
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), LIVE_TICK_MS);
      this.timer.unref();
    }
    await reply.sse.send({ event: 'state', data: JSON.stringify(this.state()), retry: 1_000 });
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const reply of this.pages) reply.sse.close();
    this.pages.clear();
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
    if (key === this.lastKey) return;
    this.lastKey = key;
    const body = JSON.stringify(this.state());
    if (body === this.lastBody) return;
    this.lastBody = body;
    // One serialisation for every page; a page that cannot take it is dropped by its connection.
    for (const reply of this.pages)
      if (reply.sse.isConnected)
        reply.sse.send({ event: 'state', data: body }).catch(() => reply.sse.close());
  }
}
