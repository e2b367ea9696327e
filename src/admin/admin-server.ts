// The admin HTTP listener: health, readiness, Prometheus metrics and /debug views.
import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { Snapshot } from '../cache/snapshot';
import { FLAVOURS, type Flavour } from '../translate/flavours';
import type { Catalog } from '../registry/catalog';
import type { RegistryStatus } from '../registry/etcd-registry';
import type { StreamView } from '../server/xds-server';
import { clientsView, configDumpView } from './views';

export interface AdminSources {
  readonly snapshot: (flavour?: Flavour) => Snapshot | undefined;
  readonly flavours: () => readonly Flavour[];
  readonly catalog: () => Catalog | undefined;
  readonly registry: () => RegistryStatus;
  readonly streams: () => readonly StreamView[];
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export function createAdminServer(sources: AdminSources) {
  // Requests are not logged (probes and scrapes would drown everything else); warnings and errors are.
  const app = Fastify({ loggerInstance: sources.logger.child({ component: 'admin' }, { level: 'warn' }) });

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

  app.get<{ Querystring: { flavour?: string } }>('/debug/config_dump', (request, reply) => {
    const flavour = request.query.flavour ?? 'grpc';
    if (!(FLAVOURS as readonly string[]).includes(flavour)) {
      return reply.code(400).send({ error: `flavour must be one of ${FLAVOURS.join(', ')}` });
    }
    return reply.send(
      configDumpView(sources.snapshot(flavour as Flavour), sources.catalog(), sources.registry(), {
        flavour,
        built: sources.flavours(),
      }),
    );
  });

  app.get('/debug/clients', (_request, reply) => reply.send(clientsView(sources.streams())));

  return app;
}

export type AdminServer = ReturnType<typeof createAdminServer>;
