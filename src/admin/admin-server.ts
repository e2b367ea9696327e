// The admin HTTP listener: health, readiness, Prometheus metrics and /debug views.
import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { Snapshot } from '../cache/snapshot';
import type { Catalog } from '../registry/catalog';
import type { RegistryStatus } from '../registry/etcd-registry';
import type { StreamState } from '../server/stream-state';
import { clientsView, configDumpView } from './views';

export interface AdminSources {
  readonly snapshot: () => Snapshot | undefined;
  readonly catalog: () => Catalog | undefined;
  readonly registry: () => RegistryStatus;
  readonly streams: () => readonly StreamState[];
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export function createAdminServer(sources: AdminSources) {
  const app = Fastify({
    loggerInstance: sources.logger.child({ component: 'admin' }),
    disableRequestLogging: true,
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

  app.get('/debug/config_dump', (_request, reply) =>
    reply.send(configDumpView(sources.snapshot(), sources.catalog(), sources.registry())),
  );

  app.get('/debug/clients', (_request, reply) => reply.send(clientsView(sources.streams())));

  return app;
}

export type AdminServer = ReturnType<typeof createAdminServer>;
