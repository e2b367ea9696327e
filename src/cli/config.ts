// Resolves `serve` settings: flags over environment over defaults, validated once at start.
import { z } from 'zod';
import { EtcdXdsError, ErrorCode } from '../errors';
import { LOG_LEVELS, type LogLevel } from '../logger';
import { formatZodError } from '../registry/json-value';

export interface ServeConfig {
  readonly etcd: readonly string[];
  readonly prefix: string;
  readonly policyPrefix: string;
  readonly host: string;
  readonly port: number;
  readonly adminHost: string;
  readonly adminPort: number;
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  readonly logLevel: LogLevel;
  /** Where Envoy proxies bind the listener etcd-xds serves them. */
  readonly envoyListener: { readonly host: string; readonly port: number };
}

/** Each setting: its flag (commander's camelCase key), env variable and default. */
export const SERVE_SETTINGS = {
  etcd: {
    flag: '--etcd <urls>',
    env: 'ETCD_XDS_ETCD',
    default: 'http://127.0.0.1:2379',
    help: 'comma-separated etcd endpoints',
  },
  prefix: {
    flag: '--prefix <p>',
    env: 'ETCD_XDS_PREFIX',
    default: '/services/',
    help: 'every key under it is one registered instance',
  },
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
    help: 'wait for etcd changes to pause this long before pushing',
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
} as const;

export type ServeSettingName = keyof typeof SERVE_SETTINGS;

const port = z.coerce.number().int().min(0).max(65535);
const keyPrefix = z.string().min(1).endsWith('/', 'must end with "/" so that it names a key directory');

const schema = z
  .object({
    etcd: z
      .string()
      .transform((text) =>
        text
          .split(',')
          .map((url) => url.trim())
          .filter((url) => url !== ''),
      )
      .pipe(z.array(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })).min(1)),
    prefix: keyPrefix,
    policyPrefix: keyPrefix,
    host: z.string().min(1),
    port,
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
  })
  .refine((c) => c.maxDelayMs >= c.debounceMs, { message: 'must be >= debounceMs', path: ['maxDelayMs'] })
  .refine((c) => !c.prefix.startsWith(c.policyPrefix) && !c.policyPrefix.startsWith(c.prefix), {
    message: 'prefix and policyPrefix must not contain one another',
    path: ['policyPrefix'],
  });

/**
 * @param flags values given on the command line (undefined when not given)
 * @param env the process environment
 */
export function resolveServeConfig(
  flags: Partial<Record<ServeSettingName, string | undefined>>,
  env: NodeJS.ProcessEnv,
): ServeConfig {
  const raw = Object.fromEntries(
    (Object.keys(SERVE_SETTINGS) as ServeSettingName[]).map((name) => {
      const setting = SERVE_SETTINGS[name];
      return [name, flags[name] ?? env[setting.env] ?? setting.default];
    }),
  );
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    // Name the flag and the variable, which is what the user can change.
    const message = parsed.error.issues
      .map((issue) => {
        const setting = SERVE_SETTINGS[issue.path[0] as ServeSettingName];
        const name = setting
          ? `${setting.flag.split(' ')[0]} / ${setting.env}`
          : formatZodError(parsed.error);
        return `${name}: ${issue.message}`;
      })
      .join('; ');
    throw new EtcdXdsError({ code: ErrorCode.BadConfig, subject: 'serve', message });
  }
  return parsed.data;
}
