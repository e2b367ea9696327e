// Resolves command settings: flags over environment over defaults, validated once at start.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from '../duration';
import { EtcdXdsError, ErrorCode } from '../errors';
import { LOG_LEVELS, type LogLevel } from '../logger';
import type { ServerLimits } from '../server/server-limits';

/** One command-line setting: its flag (commander's camelCase key is the setting's name), env variable, default. */
export interface Setting {
  readonly flag: string;
  readonly env: string;
  readonly default?: string;
  readonly help: string;
}

/** How to reach etcd: shared by `serve` and `register`. */
export const ETCD_SETTINGS = {
  etcd: {
    flag: '--etcd <urls>',
    env: 'ETCD_XDS_ETCD',
    default: 'http://127.0.0.1:2379',
    help: 'comma-separated etcd endpoints',
  },
  etcdCa: {
    flag: '--etcd-ca <file>',
    env: 'ETCD_XDS_ETCD_CA',
    help: "PEM CA bundle to verify etcd's TLS certificate",
  },
  etcdCert: {
    flag: '--etcd-cert <file>',
    env: 'ETCD_XDS_ETCD_CERT',
    help: 'PEM client certificate for etcd (mutual TLS)',
  },
  etcdKey: { flag: '--etcd-key <file>', env: 'ETCD_XDS_ETCD_KEY', help: 'PEM private key of --etcd-cert' },
  etcdUsername: {
    flag: '--etcd-username <name>',
    env: 'ETCD_XDS_ETCD_USERNAME',
    help: 'etcd user (password from ETCD_XDS_ETCD_PASSWORD or --etcd-password-file)',
  },
  etcdPasswordFile: {
    flag: '--etcd-password-file <file>',
    env: 'ETCD_XDS_ETCD_PASSWORD_FILE',
    help: 'file holding the etcd password',
  },
  prefix: {
    flag: '--prefix <p>',
    env: 'ETCD_XDS_PREFIX',
    default: '/services/',
    help: 'every key under it is one registered instance',
  },
} as const satisfies Record<string, Setting>;

/** The password never comes from a flag (argv is visible to every user of the machine). */
export const ETCD_PASSWORD_ENV = 'ETCD_XDS_ETCD_PASSWORD';

export const SERVE_SETTINGS = {
  ...ETCD_SETTINGS,
  policyPrefix: {
    flag: '--policy-prefix <p>',
    env: 'ETCD_XDS_POLICY_PREFIX',
    default: '/xds/policies/',
    help: "key <p><service> holds that service's routing policy",
  },
  host: {
    flag: '--host <h>',
    env: 'ETCD_XDS_HOST',
    default: '0.0.0.0',
    help: 'xDS (ADS) gRPC listener address',
  },
  port: {
    flag: '--port <n>',
    env: 'ETCD_XDS_PORT',
    default: '18000',
    help: 'xDS (ADS) gRPC listener port (0: any free port)',
  },
  tlsCert: {
    flag: '--tls-cert <file>',
    env: 'ETCD_XDS_TLS_CERT',
    help: 'PEM certificate: the xDS listener speaks TLS',
  },
  tlsKey: { flag: '--tls-key <file>', env: 'ETCD_XDS_TLS_KEY', help: 'PEM private key of --tls-cert' },
  tlsClientCa: {
    flag: '--tls-client-ca <file>',
    env: 'ETCD_XDS_TLS_CLIENT_CA',
    help: 'PEM CA bundle: clients must present a certificate it signed (mutual TLS)',
  },
  adminHost: {
    flag: '--admin-host <h>',
    env: 'ETCD_XDS_ADMIN_HOST',
    default: '127.0.0.1',
    help: 'HTTP admin listener address',
  },
  adminPort: {
    flag: '--admin-port <n>',
    env: 'ETCD_XDS_ADMIN_PORT',
    default: '18001',
    help: 'HTTP admin listener port (0: any free port)',
  },
  debounceMs: {
    flag: '--debounce-ms <ms>',
    env: 'ETCD_XDS_DEBOUNCE_MS',
    default: '50',
    help: 'push an isolated etcd change at once; coalesce changes that follow within this window until they pause this long',
  },
  maxDelayMs: {
    flag: '--max-delay-ms <ms>',
    env: 'ETCD_XDS_MAX_DELAY_MS',
    default: '500',
    help: 'push no later than this after a change, even if changes keep coming',
  },
  logLevel: {
    flag: '--log-level <level>',
    env: 'ETCD_XDS_LOG_LEVEL',
    default: 'info',
    help: `one of ${LOG_LEVELS.join(', ')}`,
  },
  envoyListener: {
    flag: '--envoy-listener <ip:port>',
    env: 'ETCD_XDS_ENVOY_LISTENER',
    default: '0.0.0.0:10000',
    help: 'where Envoy proxies bind the listener etcd-xds serves them',
  },
  maxConnectionAge: {
    flag: '--max-connection-age <duration>',
    env: 'ETCD_XDS_MAX_CONNECTION_AGE',
    default: '30m',
    help: 'close a client connection this long (±10 %) after it opened; clients reconnect, to any replica',
  },
  maxConnectionAgeGrace: {
    flag: '--max-connection-age-grace <duration>',
    env: 'ETCD_XDS_MAX_CONNECTION_AGE_GRACE',
    default: '10s',
    help: 'after --max-connection-age, how long calls on the connection may still run before it is closed',
  },
  maxConnectionIdle: {
    flag: '--max-connection-idle <duration>',
    env: 'ETCD_XDS_MAX_CONNECTION_IDLE',
    default: '5m',
    help: 'close a client connection that has had no stream for this long',
  },
  maxStreams: {
    flag: '--max-streams <n>',
    env: 'ETCD_XDS_MAX_STREAMS',
    default: '100000',
    help: 'xDS streams served at once; beyond it new streams end with RESOURCE_EXHAUSTED',
  },
  stallTimeout: {
    flag: '--stall-timeout <duration>',
    env: 'ETCD_XDS_STALL_TIMEOUT',
    default: '5m',
    help: 'end (RESOURCE_EXHAUSTED) a stream whose client has read none of its responses for this long',
  },
  maxAdminRequests: {
    flag: '--max-admin-requests <n>',
    env: 'ETCD_XDS_MAX_ADMIN_REQUESTS',
    default: '8',
    help: 'heavy admin requests (/debug/config_dump, /debug/clients, CSDS) served at once; beyond it 503 / RESOURCE_EXHAUSTED',
  },
} as const satisfies Record<string, Setting>;

export type ServeSettingName = keyof typeof SERVE_SETTINGS;
export type EtcdSettingName = keyof typeof ETCD_SETTINGS;

export interface EtcdConnection {
  readonly endpoints: readonly string[];
  /** File paths; read when connecting. */
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string } | undefined;
  readonly auth: { readonly username: string; readonly password: string } | undefined;
  readonly prefix: string;
}

export interface ServeConfig {
  readonly etcd: EtcdConnection;
  readonly policyPrefix: string;
  readonly host: string;
  readonly port: number;
  /** File paths; with `clientCa`, clients must present a certificate (mutual TLS). */
  readonly tls: { readonly cert: string; readonly key: string; readonly clientCa?: string } | undefined;
  readonly adminHost: string;
  readonly adminPort: number;
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  readonly logLevel: LogLevel;
  /** Where Envoy proxies bind the listener etcd-xds serves them. */
  readonly envoyListener: { readonly host: string; readonly port: number };
  readonly limits: ServerLimits;
  /** Heavy admin requests (views of every service or client) served at once. */
  readonly maxAdminRequests: number;
}

const port = z.coerce.number().int().min(0).max(65535);
/** A duration flag ("30m", "10s", "250ms"), in milliseconds: 1 ms to 24 h. */
const duration = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text, { maxMs: 24 * 3_600_000 });
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: parsed.message });
  return z.NEVER;
});
const keyPrefix = z.string().min(1).endsWith('/', 'must end with "/" so that it names a key directory');
const file = z.string().min(1).optional();

const etcdShape = {
  etcd: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((url) => url.trim())
        .filter((url) => url !== ''),
    )
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })).min(1)),
  etcdCa: file,
  etcdCert: file,
  etcdKey: file,
  etcdUsername: z.string().min(1).optional(),
  etcdPasswordFile: file,
  etcdPassword: z.string().min(1).optional(),
  prefix: keyPrefix,
};

type RawEtcd = z.infer<z.ZodObject<typeof etcdShape>>;

function checkEtcd(c: RawEtcd, issue: (path: string, message: string) => void): void {
  if ((c.etcdCert === undefined) !== (c.etcdKey === undefined))
    issue('etcdCert', 'needs --etcd-key too (and the other way round)');
  const hasPassword = c.etcdPassword !== undefined || c.etcdPasswordFile !== undefined;
  if (c.etcdUsername !== undefined && !hasPassword)
    issue('etcdUsername', `needs a password: ${ETCD_PASSWORD_ENV} or --etcd-password-file`);
  if (c.etcdUsername === undefined && hasPassword)
    issue('etcdUsername', 'a password was given without a user');
  const secure = c.etcd.filter((url) => url.startsWith('https:')).length;
  if (secure !== 0 && secure !== c.etcd.length) issue('etcd', 'use https:// for every endpoint or for none');
  if (secure === 0 && (c.etcdCa !== undefined || c.etcdCert !== undefined))
    issue('etcd', 'TLS settings for etcd need https:// endpoints');
  if (c.etcdPassword !== undefined && c.etcdPasswordFile !== undefined)
    issue('etcdPasswordFile', `give the password in ${ETCD_PASSWORD_ENV} or a file, not both`);
}

/** Reports a problem with one setting from a superRefine. */
function issueReporter(ctx: z.RefinementCtx): (path: string, message: string) => void {
  return (path, message) => ctx.addIssue({ code: 'custom', path: [path], message });
}

function etcdConnection(c: RawEtcd, readFile: (path: string) => string): EtcdConnection {
  const password =
    c.etcdPassword ?? (c.etcdPasswordFile === undefined ? undefined : readFile(c.etcdPasswordFile).trim());
  return {
    endpoints: c.etcd,
    tls:
      c.etcdCa === undefined && c.etcdCert === undefined
        ? undefined
        : { ca: c.etcdCa, cert: c.etcdCert, key: c.etcdKey },
    auth:
      c.etcdUsername === undefined || password === undefined
        ? undefined
        : { username: c.etcdUsername, password },
    prefix: c.prefix,
  };
}

const serveSchema = z
  .object({
    ...etcdShape,
    policyPrefix: keyPrefix,
    host: z.string().min(1),
    port,
    tlsCert: file,
    tlsKey: file,
    tlsClientCa: file,
    adminHost: z.string().min(1),
    adminPort: port,
    debounceMs: z.coerce.number().int().min(0).max(60_000),
    maxDelayMs: z.coerce.number().int().min(0).max(600_000),
    logLevel: z.enum(LOG_LEVELS),
    envoyListener: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/, 'must be IP:port, e.g. 0.0.0.0:10000')
      .transform((text) => {
        const colon = text.lastIndexOf(':');
        return { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(text.slice(colon + 1)) };
      })
      .refine((address) => address.port >= 1 && address.port <= 65535, 'port must be 1-65535'),
    maxConnectionAge: duration,
    maxConnectionAgeGrace: duration,
    maxConnectionIdle: duration,
    maxStreams: z.coerce.number().int().min(1).max(10_000_000),
    stallTimeout: duration,
    maxAdminRequests: z.coerce.number().int().min(1).max(1_000),
  })
  .superRefine((c, ctx) => {
    const issue = issueReporter(ctx);
    checkEtcd(c, issue);
    if (c.maxDelayMs < c.debounceMs) issue('maxDelayMs', 'must be >= debounceMs');
    if (c.prefix.startsWith(c.policyPrefix) || c.policyPrefix.startsWith(c.prefix)) {
      issue('policyPrefix', 'prefix and policyPrefix must not contain one another');
    }
    if ((c.tlsCert === undefined) !== (c.tlsKey === undefined))
      issue('tlsCert', 'needs --tls-key too (and the other way round)');
    if (c.tlsClientCa !== undefined && c.tlsCert === undefined)
      issue('tlsClientCa', 'mutual TLS needs --tls-cert and --tls-key');
  });

const etcdSchema = z.object(etcdShape).superRefine((c, ctx) => checkEtcd(c, issueReporter(ctx)));

/** Collects flags (undefined when not given), then environment, then defaults. */
function rawSettings(
  settings: Record<string, Setting>,
  flags: Partial<Record<string, string | undefined>>,
  env: NodeJS.ProcessEnv,
): Record<string, string | undefined> {
  const raw: Record<string, string | undefined> = Object.fromEntries(
    Object.entries(settings).map(([name, setting]) => [
      name,
      flags[name] ?? env[setting.env] ?? setting.default,
    ]),
  );
  raw.etcdPassword = env[ETCD_PASSWORD_ENV] || undefined;
  for (const [name, value] of Object.entries(raw)) if (value === '') raw[name] = undefined;
  return raw;
}

/** Turns validation issues into one error naming the flag and variable, which is what the user can change. */
function configError(command: string, settings: Record<string, Setting>, error: z.ZodError): EtcdXdsError {
  const message = error.issues
    .map((issue) => {
      const name = String(issue.path[0]);
      const setting = settings[name];
      const label = setting
        ? `${setting.flag.split(' ')[0]} / ${setting.env}`
        : name === 'etcdPassword'
          ? ETCD_PASSWORD_ENV
          : name;
      return `${label}: ${issue.message}`;
    })
    .join('; ');
  return new EtcdXdsError({ code: ErrorCode.BadConfig, subject: command, message });
}

export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new EtcdXdsError({
      code: ErrorCode.BadConfig,
      subject: path,
      message: `cannot read: ${(error as Error).message}`,
    });
  }
}

/**
 * @param flags values given on the command line (undefined when not given)
 * @param env the process environment
 * @param readFile reads the password file, when there is one
 */
export function resolveServeConfig(
  flags: Partial<Record<ServeSettingName, string | undefined>>,
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = readConfigFile,
): ServeConfig {
  const parsed = serveSchema.safeParse(rawSettings(SERVE_SETTINGS, flags, env));
  if (!parsed.success) throw configError('serve', SERVE_SETTINGS, parsed.error);
  const c = parsed.data;
  return {
    etcd: etcdConnection(c, readFile),
    policyPrefix: c.policyPrefix,
    host: c.host,
    port: c.port,
    tls:
      c.tlsCert === undefined || c.tlsKey === undefined
        ? undefined
        : { cert: c.tlsCert, key: c.tlsKey, clientCa: c.tlsClientCa },
    adminHost: c.adminHost,
    adminPort: c.adminPort,
    debounceMs: c.debounceMs,
    maxDelayMs: c.maxDelayMs,
    logLevel: c.logLevel,
    envoyListener: c.envoyListener,
    limits: {
      maxConnectionAgeMs: c.maxConnectionAge,
      maxConnectionAgeGraceMs: c.maxConnectionAgeGrace,
      maxConnectionIdleMs: c.maxConnectionIdle,
      maxStreams: c.maxStreams,
      stallTimeoutMs: c.stallTimeout,
    },
    maxAdminRequests: c.maxAdminRequests,
  };
}

export function resolveEtcdConnection(
  flags: Partial<Record<EtcdSettingName, string | undefined>>,
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = readConfigFile,
): EtcdConnection {
  const parsed = etcdSchema.safeParse(rawSettings(ETCD_SETTINGS, flags, env));
  if (!parsed.success) throw configError('register', ETCD_SETTINGS, parsed.error);
  return etcdConnection(parsed.data, readFile);
}
