// Parses a per-service routing policy (contract §4) into a RoutingPolicy, or says why it cannot.
import { RE2JS } from 're2js';
import { z } from 'zod';
import { ErrorCode, fail, ok, type Result } from '../errors';
import { compareStrings } from '../stable-order';
import { decodeJsonValue, formatZodError } from './json-value';
import { parseDuration } from '../duration';
import { checkHeaderName, checkLabelKey, checkLabelValue, checkServiceName, checkVersion } from './names';

export type HeaderMatch =
  | { readonly name: string; readonly invert: boolean; readonly kind: 'exact'; readonly value: string }
  | { readonly name: string; readonly invert: boolean; readonly kind: 'prefix'; readonly value: string }
  | { readonly name: string; readonly invert: boolean; readonly kind: 'regex'; readonly value: string }
  | { readonly name: string; readonly invert: boolean; readonly kind: 'present'; readonly value: boolean };

export interface VersionWeight {
  readonly version: string;
  readonly weight: number;
}

/** gRPC status codes a call may be retried on (gRFC A44; Envoy's x-envoy-retry-grpc-on). */
export const RETRY_ON = [
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;
export type RetryOn = (typeof RETRY_ON)[number];

/** Retries (contract §8): on which codes, how many attempts in all, and the backoff between them. */
export interface RetryPolicy {
  /** Sorted, distinct. */
  readonly on: readonly RetryOn[];
  /** Total attempts including the first, 2–5. */
  readonly attempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/** Timeout and retries: service-level in a policy, and per route (overriding the service's). */
export interface CallPolicy {
  /** The longest a call may take, in ms; undefined: the application's deadline alone. */
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
}

/** Outlier detection (contract §8, gRFC A50): durations in ms, percentages 0–100. */
export interface OutlierDetection {
  readonly intervalMs: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  readonly failurePercentage?: {
    readonly threshold: number;
    readonly minimumHosts: number;
    readonly requestVolume: number;
    readonly enforcementPercentage: number;
  };
  readonly successRate?: {
    readonly stdevFactor: number;
    readonly minimumHosts: number;
    readonly requestVolume: number;
    readonly enforcementPercentage: number;
  };
}

/** What applies to a service's clusters (contract §8). */
export interface ClusterPolicy {
  /** Concurrent calls per cluster; beyond it calls fail at the client with UNAVAILABLE. */
  readonly maxRequests?: number;
  readonly outlierDetection?: OutlierDetection;
}

/** Which gRPC methods a route applies to: its path match (gRFC A28), on `/pkg.Service/Method`. */
export type MethodMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string };

/** A route: where calls go when all its matchers match — one version, or split by weights. */
export type PolicyRoute = {
  /** All must match. */
  readonly headers: readonly HeaderMatch[];
  /**
   * Caller labels (contract §7), sorted by key, that must all equal the client's; undefined when
   * the route applies to every caller. Decided per client when its resources are built.
   */
  readonly caller?: readonly (readonly [string, string])[];
  readonly method?: MethodMatch;
} & CallPolicy &
  (
    | { readonly version: string; readonly weights?: undefined }
    /** Sorted by version; only positive weights. */
    | { readonly version?: undefined; readonly weights: readonly VersionWeight[] }
  );

export type LbPolicy = 'round_robin' | 'ring_hash' | 'least_request';

export interface RoutingPolicy extends CallPolicy, ClusterPolicy {
  /** The etcd key the policy came from; undefined for the built-in default. */
  readonly key: string | undefined;
  readonly header: string;
  readonly defaultVersion: string | undefined;
  /** Sorted by version; only positive weights. */
  readonly weights: readonly VersionWeight[] | undefined;
  readonly onUnknownVersion: 'reject' | 'default';
  readonly routes: readonly PolicyRoute[];
  readonly lbPolicy: LbPolicy;
  readonly hashHeader: string | undefined;
  /**
   * Contract §10: clients get this service's endpoints with their own zone at priority 0 and
   * every other locality at priority 1.
   */
  readonly zoneAffinity: boolean;
  /**
   * The caller label keys the policy reads, sorted: those of its caller routes, and `zone` with
   * zoneAffinity; empty when nothing about the caller matters.
   */
  readonly callerKeys: readonly string[];
}

/** What applies to a service that has no policy key. */
export const DEFAULT_POLICY: RoutingPolicy = {
  key: undefined,
  header: 'version',
  defaultVersion: undefined,
  weights: undefined,
  onUnknownVersion: 'reject',
  routes: [],
  lbPolicy: 'round_robin',
  hashHeader: undefined,
  zoneAffinity: false,
  callerKeys: [],
};

export const MAX_POLICY_BYTES = 64 * 1024;
/** Policy durations (timeout, retry backoff): 1 ms to 1 h. */
export const MAX_POLICY_DURATION_MS = 3_600_000;
/** gRFC A44 / Envoy default base of a retry backoff (the maximum defaults to 10 × base). */
export const DEFAULT_RETRY_BASE_MS = 25;
export const MAX_POLICY_ROUTES = 100;
export const MAX_HEADERS_PER_ROUTE = 16;
export const MAX_CALLER_LABELS_PER_ROUTE = 16;
export const MAX_REGEX_LENGTH = 1024;
/**
 * Envoy rejects a regex whose RE2 program is over 100 (runtime re2.max_program_size.error_level).
 * re2js counts about 2 less than C++ RE2 (measured against Envoy 1.40: 98 accepted, 99 rejected),
 * so this keeps a margin.
 */
export const MAX_REGEX_PROGRAM_SIZE = 95;
/** Weights are sent as whole percentages, each positive weight at least 1%. */
export const MAX_WEIGHTED_VERSIONS = 100;

const headerMatchSchema = z
  .object({
    name: z.string(),
    exact: z.string().optional(),
    prefix: z.string().min(1).optional(),
    present: z.boolean().optional(),
    regex: z.string().min(1).max(MAX_REGEX_LENGTH).optional(),
    invert: z.boolean().optional(),
  })
  .strict()
  .refine(
    (m) => [m.exact, m.prefix, m.present, m.regex].filter((v) => v !== undefined).length === 1,
    'a header matcher needs exactly one of exact, prefix, present, regex',
  );

const methodMatchSchema = z
  .object({
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: z.string().min(1).max(MAX_REGEX_LENGTH).optional(),
  })
  .strict()
  .refine(
    (m) => [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length === 1,
    'a method matcher needs exactly one of exact, prefix, regex',
  );

const retrySchema = z
  .object({
    on: z.array(z.enum(RETRY_ON)).min(1),
    attempts: z.number().int().min(2).max(5),
    backoff: z.object({ base: z.string(), max: z.string() }).strict().partial().optional(),
  })
  .strict();

const percentage = z.number().int().min(0).max(100);
const count = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);
const outlierSchema = z
  .object({
    interval: z.string().optional(),
    baseEjectionTime: z.string().optional(),
    maxEjectionTime: z.string().optional(),
    maxEjectionPercent: percentage.optional(),
    failurePercentage: z
      .object({
        threshold: percentage.optional(),
        minimumHosts: count.optional(),
        requestVolume: count.optional(),
        enforcementPercentage: percentage.optional(),
      })
      .strict()
      .optional(),
    successRate: z
      .object({
        stdevFactor: count.optional(),
        minimumHosts: count.optional(),
        requestVolume: count.optional(),
        enforcementPercentage: percentage.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine(
    (o) => o.failurePercentage !== undefined || o.successRate !== undefined,
    'outlierDetection needs at least one of failurePercentage, successRate',
  );

// Unknown fields are rejected: a typo such as "defualtVersion" must not silently change routing.
const weightsSchema = z.record(z.string(), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

const policySchema = z
  .object({
    header: z.string().optional(),
    defaultVersion: z.string().optional(),
    weights: weightsSchema.optional(),
    onUnknownVersion: z.enum(['reject', 'default']).optional(),
    routes: z
      .array(
        z
          .object({
            match: z
              .object({
                headers: z.array(headerMatchSchema).min(1).max(MAX_HEADERS_PER_ROUTE).optional(),
                caller: z.record(z.string(), z.string()).optional(),
                method: methodMatchSchema.optional(),
              })
              .strict()
              .refine(
                (m) => m.headers !== undefined || m.caller !== undefined || m.method !== undefined,
                'a route match needs at least one of headers, caller, method',
              ),
            version: z.string().optional(),
            weights: weightsSchema.optional(),
            timeout: z.string().optional(),
            retry: retrySchema.optional(),
          })
          .strict()
          .refine(
            (route) => (route.version === undefined) !== (route.weights === undefined),
            'a route needs exactly one of version, weights',
          ),
      )
      .max(MAX_POLICY_ROUTES)
      .optional(),
    lbPolicy: z.enum(['round_robin', 'ring_hash', 'least_request']).optional(),
    hashHeader: z.string().optional(),
    timeout: z.string().optional(),
    retry: retrySchema.optional(),
    maxRequests: z
      .number()
      .int()
      .min(1)
      .max(2 ** 31 - 1)
      .optional(),
    outlierDetection: outlierSchema.optional(),
    zoneAffinity: z.boolean().optional(),
  })
  .strict();

/** The service a policy key names, or an error when the key is not `<prefix><service>`. */
export function policyService(prefix: string, key: string): Result<string> {
  const service = key.slice(prefix.length);
  const error = checkServiceName(service);
  return error ? fail(ErrorCode.BadPolicy, key, `key must be ${prefix}<service>: ${error}`) : ok(service);
}

export function parsePolicy(key: string, value: Uint8Array | string): Result<RoutingPolicy> {
  const bad = (message: string): Result<RoutingPolicy> => fail(ErrorCode.BadPolicy, key, message);
  const decoded = decodeJsonValue(value, MAX_POLICY_BYTES);
  if ('error' in decoded) return bad(decoded.error);
  const parsed = policySchema.safeParse(decoded.value);
  if (!parsed.success) return bad(formatZodError(parsed.error));
  const spec = parsed.data;

  const header = spec.header ?? DEFAULT_POLICY.header;
  const problems: string[] = [];
  const checkHeader = (field: string, name: string): void => {
    const error = checkHeaderName(name);
    if (error) problems.push(`${field}: ${error}`);
  };
  const checkVersionField = (field: string, version: string): void => {
    const error = checkVersion(version);
    if (error) problems.push(`${field}: ${error}`);
  };

  checkHeader('header', header);
  if (spec.defaultVersion !== undefined) checkVersionField('defaultVersion', spec.defaultVersion);

  /** Weights sorted by version, positive ones only, each version checked. */
  const checkWeights = (field: string, given: Record<string, number>): VersionWeight[] => {
    const entries = Object.entries(given).sort(([a], [b]) => compareStrings(a, b));
    for (const [version] of entries) checkVersionField(`${field}.${version}`, version);
    const positive = entries
      .filter(([, weight]) => weight > 0)
      .map(([version, weight]) => ({ version, weight }));
    if (positive.length === 0) problems.push(`${field}: at least one version needs a positive weight`);
    if (positive.length > MAX_WEIGHTED_VERSIONS) {
      problems.push(`${field}: at most ${MAX_WEIGHTED_VERSIONS} versions may have a positive weight`);
    }
    return positive;
  };
  const weights = spec.weights === undefined ? undefined : checkWeights('weights', spec.weights);

  const routes: PolicyRoute[] = (spec.routes ?? []).map((route, r) => {
    if (route.version !== undefined) checkVersionField(`routes[${r}].version`, route.version);
    const caller = route.match.caller === undefined ? undefined : checkCaller(r, route.match.caller);
    const method = route.match.method === undefined ? undefined : checkMethod(r, route.match.method);
    const headers = (route.match.headers ?? []).map((m, h): HeaderMatch => {
      const field = `routes[${r}].match.headers[${h}]`;
      const name = m.name;
      checkHeader(`${field}.name`, name);
      const invert = m.invert ?? false;
      if (m.exact !== undefined) return { name, invert, kind: 'exact', value: m.exact };
      if (m.prefix !== undefined) return { name, invert, kind: 'prefix', value: m.prefix };
      if (m.regex !== undefined) {
        const error = checkRe2(m.regex);
        if (error) problems.push(`${field}.regex: ${error}`);
        return { name, invert, kind: 'regex', value: m.regex };
      }
      return { name, invert, kind: 'present', value: m.present ?? true };
    });
    const calls = checkCallPolicy(`routes[${r}].`, route);
    const matches = { headers, ...(caller && { caller }), ...(method && { method }), ...calls };
    return route.weights === undefined
      ? { ...matches, version: route.version! }
      : { ...matches, weights: checkWeights(`routes[${r}].weights`, route.weights) };
  });

  function checkCaller(r: number, given: Record<string, string>): [string, string][] {
    const field = `routes[${r}].match.caller`;
    const entries = Object.entries(given).sort(([a], [b]) => compareStrings(a, b));
    if (entries.length === 0 || entries.length > MAX_CALLER_LABELS_PER_ROUTE)
      problems.push(`${field}: needs 1-${MAX_CALLER_LABELS_PER_ROUTE} labels`);
    for (const [label, value] of entries) {
      const error = checkLabelKey(label) ?? checkLabelValue(label, value);
      if (error) problems.push(`${field}: ${error}`);
    }
    return entries;
  }

  function checkMethod(r: number, given: { exact?: string; prefix?: string; regex?: string }): MethodMatch {
    const field = `routes[${r}].match.method`;
    if (given.regex !== undefined) {
      const error = checkRe2(given.regex);
      if (error) problems.push(`${field}.regex: ${error}`);
      return { kind: 'regex', value: given.regex };
    }
    if (given.exact !== undefined) {
      if (!METHOD_PATH.test(given.exact))
        problems.push(
          `${field}.exact: ${JSON.stringify(given.exact)} is not a method path /package.Service/Method`,
        );
      return { kind: 'exact', value: given.exact };
    }
    const prefix = given.prefix!;
    if (!prefix.startsWith('/'))
      problems.push(
        `${field}.prefix: ${JSON.stringify(prefix)} must start with "/" (method paths are /package.Service/Method)`,
      );
    return { kind: 'prefix', value: prefix };
  }

  /** A policy duration in ms (1 ms to 1 h, in ms or s), or `fallback` with the problem noted. */
  function checkDuration(field: string, text: string, fallback: number): number {
    const parsed = parseDuration(text, { units: ['ms', 's'], maxMs: MAX_POLICY_DURATION_MS });
    if (parsed.ok) return parsed.ms;
    problems.push(`${field}: ${JSON.stringify(text)} ${parsed.message}`);
    return fallback;
  }

  /** A timeout and retry, each checked; `field` prefixes their names in errors. */
  function checkCallPolicy(
    field: string,
    given: { timeout?: string; retry?: z.infer<typeof retrySchema> },
  ): CallPolicy {
    const duration = (name: string, text: string): number => checkDuration(`${field}${name}`, text, 0);
    const calls: { timeoutMs?: number; retry?: RetryPolicy } = {};
    if (given.timeout !== undefined) calls.timeoutMs = duration('timeout', given.timeout);
    if (given.retry !== undefined) {
      const { on, attempts, backoff } = given.retry;
      const backoffBaseMs =
        backoff?.base === undefined ? DEFAULT_RETRY_BASE_MS : duration('retry.backoff.base', backoff.base);
      // As gRPC and Envoy do when the field is unset: 10 × base.
      const backoffMaxMs =
        backoff?.max === undefined ? backoffBaseMs * 10 : duration('retry.backoff.max', backoff.max);
      if (backoffMaxMs < backoffBaseMs)
        problems.push(
          `${field}retry.backoff: max ${backoff?.max} is less than base ${backoff?.base ?? '25ms'}`,
        );
      calls.retry = { on: [...new Set(on)].sort(compareStrings), attempts, backoffBaseMs, backoffMaxMs };
    }
    return calls;
  }

  const lbPolicy = spec.lbPolicy ?? DEFAULT_POLICY.lbPolicy;
  if (lbPolicy === 'ring_hash') {
    if (spec.hashHeader === undefined) problems.push('hashHeader: required when lbPolicy is ring_hash');
    else checkHeader('hashHeader', spec.hashHeader);
  } else if (spec.hashHeader !== undefined) {
    problems.push('hashHeader: only used with lbPolicy ring_hash');
  }

  const serviceCalls = checkCallPolicy('', spec);
  let outlierDetection: OutlierDetection | undefined;
  if (spec.outlierDetection !== undefined) {
    const given = spec.outlierDetection;
    const duration = (name: string, text: string | undefined, fallback: number): number =>
      text === undefined ? fallback : checkDuration(`outlierDetection.${name}`, text, fallback);
    const { failurePercentage: failure, successRate: success } = given;
    outlierDetection = {
      intervalMs: duration('interval', given.interval, 10_000),
      baseEjectionMs: duration('baseEjectionTime', given.baseEjectionTime, 30_000),
      maxEjectionMs: duration('maxEjectionTime', given.maxEjectionTime, 300_000),
      maxEjectionPercent: given.maxEjectionPercent ?? 10,
      ...(failure && {
        failurePercentage: {
          threshold: failure.threshold ?? 85,
          minimumHosts: failure.minimumHosts ?? 5,
          requestVolume: failure.requestVolume ?? 50,
          enforcementPercentage: failure.enforcementPercentage ?? 100,
        },
      }),
      ...(success && {
        successRate: {
          stdevFactor: success.stdevFactor ?? 1900,
          minimumHosts: success.minimumHosts ?? 5,
          requestVolume: success.requestVolume ?? 100,
          enforcementPercentage: success.enforcementPercentage ?? 100,
        },
      }),
    };
  }
  if (problems.length > 0) return bad(problems.join('; '));
  return ok({
    ...serviceCalls,
    ...(spec.maxRequests !== undefined && { maxRequests: spec.maxRequests }),
    ...(outlierDetection && { outlierDetection }),
    key,
    header,
    defaultVersion: spec.defaultVersion,
    weights,
    onUnknownVersion: spec.onUnknownVersion ?? DEFAULT_POLICY.onUnknownVersion,
    routes,
    lbPolicy,
    hashHeader: spec.hashHeader,
    zoneAffinity: spec.zoneAffinity ?? false,
    callerKeys: [
      ...new Set([
        ...routes.flatMap((route) => (route.caller ?? []).map(([label]) => label)),
        ...(spec.zoneAffinity === true ? ['zone'] : []),
      ]),
    ].sort(compareStrings),
  });
}

/** A gRPC method path: `/`, the service's full name, `/`, the method; printable ASCII, no spaces. */
const METHOD_PATH = /^\/[!-.0-~]+\/[!-.0-~]+$/;

/** Clients evaluate header regexes with RE2 (full match); reject what RE2, or Envoy's size limit, would. */
function checkRe2(pattern: string): string | undefined {
  let size: number;
  try {
    size = RE2JS.compile(pattern).programSize();
  } catch (error) {
    return `not a valid RE2 expression: ${(error as Error).message}`;
  }
  if (size > MAX_REGEX_PROGRAM_SIZE) {
    return `RE2 program size ${size} is over the limit of ${MAX_REGEX_PROGRAM_SIZE} (Envoy would reject it); simplify the expression`;
  }
  return undefined;
}
