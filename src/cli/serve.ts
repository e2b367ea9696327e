// Wires the stages together for `etcd-xds serve`: registry → cache → server, plus admin.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createAdminServer } from '../admin/admin-server';
import { CSDS_SERVICE, csdsImplementation } from '../admin/csds';
import { explainCall } from '../admin/explain';
import { HeavyRequests } from '../admin/heavy-requests';
import { ViewBuilds } from '../admin/view-builds';
import { LatencyTimeline } from '../admin/ui/latency-timeline';
import { SnapshotCache } from '../cache/snapshot-cache';
import { Metrics } from '../metrics';
import { protoRoot } from '../proto/proto-root';
import type { Catalog } from '../registry/catalog';
import { EtcdRegistry } from '../registry/etcd-registry';
import { XdsServer } from '../server/xds-server';
import { translator } from '../translate/flavours';
import { readConfigFile, type ServeConfig } from './config';
import { createEtcdClient } from './etcd-client';

export interface RunningServer {
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Graceful stop: no new streams, open ones closed, etcd released. */
  stop(): Promise<void>;
}

export async function startServer(config: ServeConfig, logger: Logger): Promise<RunningServer> {
  const metrics = new Metrics();
  const etcd = createEtcdClient(config.etcd);
  const cache = new SnapshotCache({
    translator: translator({ envoyListener: config.envoyListener }),
    debounceMs: config.debounceMs,
    maxDelayMs: config.maxDelayMs,
    logger: logger.child({ component: 'cache' }),
    metrics,
  });
  let catalog: Catalog | undefined;
  const registry = new EtcdRegistry({
    client: etcd,
    prefix: config.etcd.prefix,
    policyPrefix: config.policyPrefix,
    logger: logger.child({ component: 'registry' }),
    metrics,
    onCatalog: (next) => {
      catalog = next;
      cache.setCatalog(next);
    },
  });
  const timeline = new LatencyTimeline();
  const xds = new XdsServer({
    cache,
    latency: timeline,
    logger: logger.child({ component: 'server' }),
    metrics,
    credentials: serverCredentials(config.tls),
    limits: config.limits,
  });
  const adminLogger = logger.child({ component: 'admin' });
  const views = new ViewBuilds({
    onBuild: (view) => metrics.adminViewBuilds.inc({ view }),
    onError: (view, error) => adminLogger.error({ err: error, view }, 'failed to build an admin view'),
  });
  const heavy = new HeavyRequests(config.maxAdminRequests, metrics.adminRefusedRequests);
  xds.addService(
    CSDS_SERVICE,
    csdsImplementation({
      streams: () => xds.streamViews(),
      snapshot: (clientKey) => cache.served(clientKey),
      version: () => xds.stateGeneration,
      views,
      heavy,
    }),
  );
  const admin = createAdminServer({
    explain: (caller, request) => explainCall(cache, caller, request),
    snapshot: (flavour) => cache.peek(flavour ?? 'grpc'),
    flavours: () => cache.flavours(),
    catalog: () => catalog,
    translatedCatalog: () => cache.translatedCatalog(),
    registry: () => registry.status(),
    streams: () => xds.streamViews(),
    clientsVersion: () => xds.stateGeneration,
    views,
    heavy,
    timeline,
    metrics,
    logger,
  });

  // etcd reads the first page of a large catalog while the servers bind and the xDS protos load
  // (0.15 s, otherwise spent when the first snapshot is encoded, after the list).
  registry.start();
  setImmediate(() => {
    try {
      protoRoot();
    } catch {
      // Said where the protos are first used, by the error that stops the snapshot.
    }
  });
  const xdsPort = await xds.listen(config.host, config.port);
  await admin.listen({ host: config.adminHost, port: config.adminPort });
  const address = admin.server.address();
  const adminPort = typeof address === 'object' && address !== null ? address.port : config.adminPort;
  logger.info(
    {
      xds: `${config.host}:${xdsPort}`,
      admin: `${config.adminHost}:${adminPort}`,
      etcd: config.etcd.endpoints,
      etcdTls: config.etcd.tls !== undefined,
      etcdUser: config.etcd.auth?.username,
      tls: config.tls === undefined ? 'off' : config.tls.clientCa === undefined ? 'tls' : 'mutual',
      prefix: config.etcd.prefix,
    },
    'etcd-xds serving',
  );

  return {
    xdsPort,
    adminPort,
    async stop() {
      await xds.shutdown();
      // Closing the client fails any etcd call in flight (a list while etcd is down would
      // otherwise hold shutdown), which lets the registry loop end.
      const registryStopped = registry.stop();
      etcd.close();
      await registryStopped;
      cache.close();
      await admin.close();
    },
  };
}

/** Plaintext, TLS, or mutual TLS (clients must present a certificate the client CA signed). */
function serverCredentials(tls: ServeConfig['tls']): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  const clientCa = tls.clientCa === undefined ? null : Buffer.from(readConfigFile(tls.clientCa));
  return grpc.ServerCredentials.createSsl(
    clientCa,
    [
      {
        cert_chain: Buffer.from(readConfigFile(tls.cert)),
        private_key: Buffer.from(readConfigFile(tls.key)),
      },
    ],
    clientCa !== null,
  );
}
