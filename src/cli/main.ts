#!/usr/bin/env node
// The etcd-xds command line: `serve`, `bootstrap`, `explain` and `register`.
import { Command, Option } from 'commander';
import { EtcdXdsError } from '../errors';
import { createLogger, LOG_LEVELS, type LogLevel } from '../logger';
import { Registrar } from '../register/registrar';
import { bootstrapLabels, envoyBootstrap, grpcBootstrap } from './bootstrap';
import {
  ETCD_SETTINGS,
  resolveEtcdConnection,
  resolveServeConfig,
  SERVE_SETTINGS,
  type EtcdSettingName,
  type ServeSettingName,
  type Setting,
} from './config';
import { createEtcdClient } from './etcd-client';
import { DEFAULT_ADMIN_URL, runExplain } from './explain';
import { startServer } from './serve';
import { untilSignal } from './signals';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

function fail(error: unknown): never {
  const message =
    error instanceof EtcdXdsError ? error.message : `etcd-xds: ${(error as Error).message ?? String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const program = new Command('etcd-xds')
  .description('xDS control plane for proxyless gRPC and Envoy, fed by etcd service registrations')
  .version(version)
  // Options after a subcommand belong to it: `register --version v1` is the instance version.
  .enablePositionalOptions()
  .showHelpAfterError()
  // Usage errors (unknown option, missing argument) exit 2 like every other bad input; help and
  // --version exit 0. Subcommands inherit this.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

const serve = program
  .command('serve')
  .description('watch etcd and serve xDS (ADS) to gRPC clients and Envoy');
/** Commander names each option after its flag (--policy-prefix → policyPrefix), matching the setting names. */
function settingOptions(settings: Record<string, Setting>): Option[] {
  return Object.values(settings).map(
    (setting) =>
      new Option(
        setting.flag,
        `${setting.help} (env ${setting.env}${setting.default === undefined ? '' : `, default ${JSON.stringify(setting.default)}`})`,
      ),
  );
}
for (const option of settingOptions(SERVE_SETTINGS)) serve.addOption(option);
serve.action(async (flags: Partial<Record<ServeSettingName, string>>) => {
  let config;
  try {
    config = resolveServeConfig(flags, process.env);
  } catch (error) {
    fail(error);
  }
  const logger = createLogger(config.logLevel);
  // Listen for signals before starting: one that arrives during start-up stops the server as
  // soon as it is up, instead of killing the process mid-way.
  const stopping = untilSignal();
  let server;
  try {
    server = await startServer(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'could not start');
    process.exit(1);
  }
  const signal = await stopping;
  logger.info({ signal }, 'shutting down');
  await server.stop();
  logger.info('stopped');
  process.exit(0);
});

program
  .command('bootstrap')
  .description(
    'print a gRPC xDS bootstrap file (JSON) pointing at etcd-xds; clients set GRPC_XDS_BOOTSTRAP to its path',
  )
  .requiredOption(
    '--server <host:port>',
    'etcd-xds address; comma-separated for several, in order of preference',
  )
  .option('--node-id <id>', 'node id the client reports (default: the hostname)')
  .option('--cluster <name>', 'node cluster the client reports')
  .option('--zone <zone>', 'locality zone of the client')
  .option(
    '--service <name>',
    'caller label service=<name> (node metadata): the service this client belongs to',
  )
  .option('--version <version>', 'caller label version=<version> (node metadata)')
  .option(
    '--label <key=value>',
    'another caller label (node metadata); repeat for several',
    collect,
    [] as string[],
  )
  .option('--envoy', 'print an Envoy bootstrap instead (ADS for listeners and clusters)')
  .option('--delta', 'with --envoy: use incremental (delta) xDS')
  .option('--envoy-admin-port <port>', "with --envoy: Envoy's admin port on 127.0.0.1", '9901')
  .option('--tls-ca <file>', "connect with TLS, trusting this CA for etcd-xds's certificate")
  .option('--tls-cert <file>', 'with --tls-ca: the client certificate for mutual TLS')
  .option('--tls-key <file>', 'with --tls-cert: its private key')
  .action(
    (options: {
      server: string;
      nodeId?: string;
      cluster?: string;
      zone?: string;
      service?: string;
      version?: string;
      label: string[];
      envoy?: boolean;
      delta?: boolean;
      envoyAdminPort: string;
      tlsCa?: string;
      tlsCert?: string;
      tlsKey?: string;
    }) => {
      const servers = options.server
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const bad = servers.find((server) => !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(server));
      if (servers.length === 0 || bad !== undefined)
        fail(new Error(`--server: ${JSON.stringify(bad ?? '')} is not host:port`));
      if (options.delta && !options.envoy) fail(new Error('--delta only applies to --envoy'));
      if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
        fail(new Error('--tls-cert and --tls-key go together'));
      }
      if (options.tlsCert !== undefined && options.tlsCa === undefined)
        fail(new Error('--tls-cert needs --tls-ca'));
      const tls =
        options.tlsCa === undefined
          ? undefined
          : { ca: options.tlsCa, cert: options.tlsCert, key: options.tlsKey };
      const labels = bootstrapLabels(options);
      if (!labels.ok) fail(new Error(labels.message));
      const common = { ...options, servers, tls, labels: labels.labels };
      const bootstrap = options.envoy
        ? envoyBootstrap({ ...common, adminPort: Number(options.envoyAdminPort) })
        : grpcBootstrap(common);
      process.stdout.write(`${JSON.stringify(bootstrap, null, 2)}\n`);
    },
  );

program
  .command('explain')
  .description(
    'ask a running etcd-xds where a call to <service> would go (exit 0: routed, 3: the call would fail, 2: bad input or server unreachable)',
  )
  .argument('<service>', 'the service called (xds:///<service>)')
  .option(
    '-H, --header <name:value>',
    'a header the call carries; repeat for several',
    collect,
    [] as string[],
  )
  .option(
    '--caller <label=value>',
    'a caller label of the calling client; repeat for several',
    collect,
    [] as string[],
  )
  .option('--method <path>', 'the method called, /package.Service/Method (for routes that match on it)')
  .option('--admin <url>', "etcd-xds's admin address", DEFAULT_ADMIN_URL)
  .option('--json', 'print the JSON answer of /debug/explain')
  .action(
    async (
      service: string,
      options: { header: string[]; caller: string[]; method?: string; admin: string; json?: boolean },
    ) => {
      const result = await runExplain({
        service,
        headers: options.header,
        callers: options.caller,
        method: options.method,
        admin: options.admin,
        json: options.json ?? false,
      });
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.code;
    },
  );

const register = program
  .command('register')
  .description('register one instance in etcd under a lease, keep it alive, and deregister on SIGTERM/SIGINT')
  .requiredOption('--service <name>', 'service name (clients dial xds:///<name>)')
  .requiredOption('--address <ip:port>', 'address clients should dial')
  .option('--version <version>', 'instance version, matched against the version header')
  .option('--id <id>', 'instance id (default: <hostname>-<port>)')
  .option('--ttl <seconds>', 'lease TTL', '10')
  .option('--weight <n>', 'relative traffic share')
  .option('--zone <zone>', 'locality zone')
  .option(
    '--drain-seconds <n>',
    'on SIGTERM/SIGINT, first mark the instance draining (no new calls) for this long, then deregister',
    '5',
  )
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'));
for (const option of settingOptions(ETCD_SETTINGS)) register.addOption(option);
register.action(
  async (
    options: {
      service: string;
      address: string;
      version?: string;
      id?: string;
      ttl: string;
      weight?: string;
      zone?: string;
      drainSeconds: string;
      logLevel: LogLevel;
    } & Partial<Record<EtcdSettingName, string>>,
  ) => {
    const logger = createLogger(options.logLevel);
    const drainSeconds = Number(options.drainSeconds);
    if (!/^\d+(\.\d+)?$/.test(options.drainSeconds) || drainSeconds > 3600)
      fail(
        new Error(
          `--drain-seconds: ${JSON.stringify(options.drainSeconds)} must be a number of seconds from 0 to 3600`,
        ),
      );
    let connection;
    try {
      connection = resolveEtcdConnection(options, process.env);
    } catch (error) {
      fail(error);
    }
    const etcd = createEtcdClient(connection);
    const stopping = untilSignal();
    let registrar: Registrar;
    try {
      registrar = new Registrar({
        etcd,
        prefix: connection.prefix,
        service: options.service,
        address: options.address,
        version: options.version,
        id: options.id,
        ttlSeconds: Number(options.ttl),
        weight: options.weight === undefined ? undefined : Number(options.weight),
        zone: options.zone,
        logger,
      });
    } catch (error) {
      etcd.close();
      fail(error);
    }
    // Registers (retrying while etcd is unreachable) until a signal; stop() then removes
    // whatever was written, even mid-registration.
    registrar.start().catch((error: unknown) => logger.error({ err: error }, 'registration failed'));
    const signal = await stopping;
    logger.info({ signal, key: registrar.key, drainSeconds }, 'draining, then deregistering');
    await registrar.drain(drainSeconds * 1000);
    etcd.close();
    process.exit(0);
  },
);

program.parseAsync(process.argv).catch(fail);
