#!/usr/bin/env node
// The demo app of the Kubernetes example overlay: an Echo server that registers itself in etcd
// with the etcd-xds TypeScript API and, when told to stop, drains (contract §9) before it does.
//
// Environment: ECHO_VERSION (required), POD_IP (required: the address clients dial),
// ECHO_SERVICE (default "echo"), ECHO_PORT (default 50051), POD_NAME (instance id, default the
// hostname), ECHO_ZONE (optional), ECHO_DRAIN_SECONDS (default 5), and the etcd settings of `etcd-xds register` (ETCD_XDS_ETCD,
// ETCD_XDS_PREFIX, ETCD_XDS_ETCD_CA, ...).
import { hostname } from 'node:os';
import { resolveEtcdConnection } from '../cli/config';
import { createEtcdClient } from '../cli/etcd-client';
import { untilSignal } from '../cli/signals';
import { createLogger, LOG_LEVELS, type LogLevel } from '../logger';
import { Registrar } from '../register/registrar';
import { startEchoServer } from './echo';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`echo-server: ${name} must be set\n`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const level = (process.env.LOG_LEVEL ?? 'info') as LogLevel;
  const logger = createLogger(LOG_LEVELS.includes(level) ? level : 'info').child({
    component: 'echo-server',
  });
  const version = required('ECHO_VERSION');
  const podIp = required('POD_IP');
  const service = process.env.ECHO_SERVICE ?? 'echo';
  const port = Number(process.env.ECHO_PORT ?? '50051');
  const id = process.env.POD_NAME ?? hostname();
  const advertise = podIp.includes(':') ? `[${podIp}]:${port}` : `${podIp}:${port}`;

  const connection = resolveEtcdConnection({}, process.env);
  const etcd = createEtcdClient(connection);
  const server = await startEchoServer({ service, id, version }, { host: podIp, port, advertise });
  const registrar = new Registrar({
    etcd,
    prefix: connection.prefix,
    service,
    id,
    version,
    address: advertise,
    zone: process.env.ECHO_ZONE || undefined,
    logger,
  });
  logger.info({ service, id, version, address: advertise }, 'serving; registering in etcd');
  registrar.start().catch((error: unknown) => logger.error({ err: error }, 'registration failed'));

  const signal = await untilSignal();
  // Draining first: clients stop picking this instance while calls in flight finish; then
  // deregister and stop.
  const drainSeconds = Number(process.env.ECHO_DRAIN_SECONDS ?? '5');
  logger.info({ signal, key: registrar.key, drainSeconds }, 'draining, then deregistering');
  await registrar.drain(Number.isFinite(drainSeconds) && drainSeconds >= 0 ? drainSeconds * 1000 : 5_000);
  etcd.close();
  await server.stop(5_000);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`echo-server: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
