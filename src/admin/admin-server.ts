// The admin HTTP listener: health, readiness, Prometheus metrics and /debug views. The /debug
// views are heavy (every resource, every client): they are built once per state and shared
// (ViewBuilds), written a slice at a time, streamed to each requester at its own pace, and capped
// in number (HeavyRequests) so the admin port can never take the process from xDS clients.
import { Readable } from 'node:stream';
import Fastify, { type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { Snapshot } from '../cache/snapshot';
import { PUSH_ORDER, type XdsType } from '../proto/xds-types';
import { FLAVOURS, type Flavour } from '../translate/flavours';
import type { Catalog } from '../registry/catalog';
import type { RegistryStatus } from '../registry/etcd-registry';
import type { StreamView } from '../server/xds-server';
import type { HeavyRequests } from './heavy-requests';
import { JsonWriter } from './json-stream';
import type { ViewBuild, ViewBuilds } from './view-builds';
import { clientsView, configDumpView } from './views';
import type { ExplainCall, ExplainRequest } from './explain';
import type { CallerLabels } from '../translate/caller-labels';
import { checkLabelKey, checkLabelValue, checkServiceName } from '../registry/names';
import { compareStrings } from '../stable-order';
import { dashboard } from './ui/ui-routes';
import { BadQuery, parseQuery, values, type Query } from './query';
import type { LatencyTimeline } from './ui/latency-timeline';

export interface AdminSources {
  /** Explains a call (contract §11); undefined before the first catalog. */
  readonly explain: ExplainCall;
  readonly snapshot: (flavour?: Flavour) => Snapshot | undefined;
  readonly flavours: () => readonly Flavour[];
  readonly catalog: () => Catalog | undefined;
  /** The catalog the served snapshots were translated from (the dashboard shows it with explain). */
  readonly translatedCatalog: () => Catalog | undefined;
  readonly registry: () => RegistryStatus;
  readonly streams: () => readonly StreamView[];
  /** Changes whenever some stream's state does: a /debug/clients view is current while it does not. */
  readonly clientsVersion: () => number;
  readonly views: ViewBuilds;
  readonly heavy: HeavyRequests;
  /** Push and convergence latency over the last minutes (the dashboard's chart). */
  readonly timeline: LatencyTimeline;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** How long a client may leave its admin connection without reading or writing. */
const IDLE_CONNECTION_MS = 60_000;

function nonEmpty(name: string, list: string[] | undefined): Set<string> | undefined {
  if (list === undefined) return undefined;
  if (list.length === 0 || list.some((value) => value === ''))
    throw new BadQuery(`${name} must not be empty`);
  return new Set(list);
}

function typesOf(list: string[] | undefined): Set<XdsType> | undefined {
  const names = nonEmpty('type', list);
  if (names === undefined) return undefined;
  return new Set(
    [...names].map((name) => {
      const type = PUSH_ORDER.find((t) => t.short === name.toUpperCase());
      if (type === undefined)
        throw new BadQuery(
          `type must be one of ${PUSH_ORDER.map((t) => t.short).join(', ')}, not ${JSON.stringify(name)}`,
        );
      return type;
    }),
  );
}

export function createAdminServer(sources: AdminSources) {
  // Requests are not logged (probes and scrapes would drown everything else); warnings and errors are.
  const app = Fastify({
    loggerInstance: sources.logger.child({ component: 'admin' }, { level: 'warn' }),
    connectionTimeout: IDLE_CONNECTION_MS,
  });

  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', (_request, reply) => {
    const snapshot = sources.snapshot();
    const registry = sources.registry();
    const ready = snapshot !== undefined;
    // A stale replica stays ready: it serves the last known config, which beats no config when
    // etcd is down for every replica at once. The body and a metric say it is stale.
    return reply.code(ready ? 200 : 503).send({
      ready,
      stale: registry.stale,
      revision: snapshot?.revision ?? null,
      etcd: { synced: registry.synced, revision: registry.revision, lastError: registry.lastError ?? null },
    });
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await sources.metrics.registry.metrics();
    return reply.type(sources.metrics.registry.contentType).send(body);
  });

  /** Streams a shared view build as the response, holding one heavy-request turn meanwhile. */
  const streamView = (reply: FastifyReply, endpoint: string, build: () => ViewBuild): FastifyReply => {
    const end = sources.heavy.begin(endpoint);
    if (end === undefined) {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({
          error: `${sources.heavy.max} heavy admin requests are already running; retry later`,
        });
    }
    reply.raw.once('close', end);
    return reply.type('application/json; charset=utf-8').send(Readable.from(build().read()));
  };

  app.get<{ Querystring: Query }>('/debug/config_dump', (request, reply) => {
    const query = parseQuery(reply, () => {
      const flavour = request.query.flavour ?? 'grpc';
      if (typeof flavour !== 'string' || !(FLAVOURS as readonly string[]).includes(flavour))
        throw new BadQuery(`flavour must be one of ${FLAVOURS.join(', ')}`);
      return {
        flavour: flavour as Flavour,
        services: nonEmpty('service', values(request.query, 'service', true)),
        types: typesOf(values(request.query, 'type', true)),
      };
    });
    if (query === undefined) return reply;
    const { flavour, services, types } = query;
    const snapshot = sources.snapshot(flavour);
    const catalog = sources.catalog();
    const registry = sources.registry();
    const built = sources.flavours();
    const key = `config_dump ${flavour} ${[...(services ?? [])].sort().join(',')} ${PUSH_ORDER.filter((t) =>
      types?.has(t),
    )
      .map((t) => t.short)
      .join(',')}`;
    return streamView(reply, 'config_dump', () =>
      sources.views.get(
        'config_dump',
        key,
        [snapshot, catalog, JSON.stringify(registry), built.join()],
        () => {
          const view = configDumpView(
            snapshot,
            catalog,
            registry,
            { flavour, built },
            {
              services,
              types,
            },
          );
          return new JsonWriter(view);
        },
      ),
    );
  });

  app.get<{ Querystring: Query }>('/debug/clients', (request, reply) => {
    const query = parseQuery(reply, () => ({
      nodes: nonEmpty('node', values(request.query, 'node', false)),
    }));
    if (query === undefined) return reply;
    const { nodes } = query;
    const key = `clients ${JSON.stringify([...(nodes ?? [])].sort())}`;
    return streamView(reply, 'clients', () =>
      sources.views.get(
        'clients',
        key,
        [sources.clientsVersion()],
        () => new JsonWriter(clientsView(sources.streams(), { nodes })),
      ),
    );
  });

  app.get<{ Querystring: Query }>('/debug/explain', (request, reply) => {
    const query = parseQuery(reply, () => parseExplainQuery(request.query));
    if (query === undefined) return reply;
    const answer = sources.explain(query.caller, query.request);
    if (answer === undefined)
      return reply.code(503).send({ error: 'not ready: no catalog read from etcd yet' });
    if (answer === 'no-such-service')
      return reply
        .code(404)
        .send({ error: `no service ${JSON.stringify(query.request.service)} in the catalog` });
    return reply.send(answer);
  });

  void app.register(
    dashboard({
      explain: sources.explain,
      catalog: sources.translatedCatalog,
      registry: sources.registry,
      streams: sources.streams,
      clientsVersion: sources.clientsVersion,
      timeline: sources.timeline,
      logger: sources.logger.child({ component: 'admin' }),
    }),
  );

  return app;
}

/** A header name as HTTP/2 carries it: lower-case token characters. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** `service=S`, `header=NAME:VALUE`…, `caller=LABEL:VALUE`…, `method=/pkg.Service/Method`. */
function parseExplainQuery(query: Query): { caller: CallerLabels; request: ExplainRequest } {
  const known = new Set(['service', 'header', 'caller', 'method']);
  for (const name of Object.keys(query))
    if (!known.has(name))
      throw new BadQuery(`unknown parameter ${JSON.stringify(name)} (service, header, caller, method)`);
  const services = values(query, 'service', false) ?? [];
  if (services.length !== 1) throw new BadQuery('service is required, once');
  const service = services[0];
  const serviceError = checkServiceName(service);
  if (serviceError) throw new BadQuery(`service: ${serviceError}`);
  const pair = (name: string, given: string): [string, string] => {
    const colon = given.indexOf(':');
    if (colon <= 0) throw new BadQuery(`${name} must be NAME:VALUE, got ${JSON.stringify(given)}`);
    return [given.slice(0, colon), given.slice(colon + 1)];
  };
  const headers = new Map<string, string>();
  for (const given of values(query, 'header', false) ?? []) {
    const [rawName, value] = pair('header', given);
    const name = rawName.toLowerCase();
    if (!HEADER_NAME.test(name))
      throw new BadQuery(`header: ${JSON.stringify(rawName)} is not a header name`);
    // gRPC presents repeated headers to matchers as one value joined by commas.
    headers.set(name, headers.has(name) ? `${headers.get(name)},${value}` : value);
  }
  const caller = new Map<string, string>();
  for (const given of values(query, 'caller', false) ?? []) {
    const [label, value] = pair('caller', given);
    const error = checkLabelKey(label) ?? checkLabelValue(label, value);
    if (error) throw new BadQuery(`caller: ${error}`);
    if (caller.has(label)) throw new BadQuery(`caller: label ${JSON.stringify(label)} given twice`);
    caller.set(label, value);
  }
  const methods = values(query, 'method', false);
  if (methods !== undefined && (methods.length !== 1 || !/^\/[^/]+\/[^/]+$/.test(methods[0])))
    throw new BadQuery('method must be given once, as /package.Service/Method');
  return {
    caller: new Map([...caller].sort(([a], [b]) => compareStrings(a, b))),
    request: { service, headers, method: methods?.[0] },
  };
}

export type AdminServer = ReturnType<typeof createAdminServer>;
