// Builds catalogs for unit tests the way the registry does: from etcd keys and JSON values.
import { CatalogBuilder, type Catalog, type ServiceCatalog } from '../../src/registry/catalog';

export interface InstanceSpec {
  readonly service?: string;
  readonly id: string;
  readonly version?: string;
  readonly address: string;
  readonly weight?: number;
  readonly zone?: string;
  readonly status?: 'serving' | 'draining';
}

export function catalogOf(
  instances: readonly InstanceSpec[],
  policies: Record<string, object> = {},
  revision = 1,
): Catalog {
  const builder = new CatalogBuilder('/xds/policies/');
  for (const { service = 'app', ...fields } of instances) {
    builder.putRegistration(
      `/services/${service}/${fields.id}`,
      JSON.stringify({ name: service, ...fields }),
    );
  }
  for (const [service, policy] of Object.entries(policies)) {
    const outcome = builder.putPolicy(`/xds/policies/${service}`, JSON.stringify(policy));
    if (outcome.kind === 'rejected') throw new Error(`fixture policy rejected: ${outcome.problem.message}`);
  }
  return builder.snapshot(revision);
}

export function serviceOf(instances: readonly InstanceSpec[], policy?: object): ServiceCatalog {
  const catalog = catalogOf(instances, policy ? { app: policy } : {});
  const service = catalog.services.get('app');
  if (service === undefined) throw new Error('fixture has no service "app"');
  return service;
}

/** Service-level timeout and retry; a route with its own; a route to a missing version (none). */
export const CALL_POLICY = {
  timeout: '2s',
  retry: { on: ['unavailable', 'cancelled'], attempts: 3 },
  routes: [
    {
      match: { headers: [{ name: 'x-slow', present: true }] },
      version: 'v1',
      timeout: '300ms',
      retry: { on: ['deadline-exceeded'], attempts: 2, backoff: { base: '10ms', max: '1.5s' } },
    },
    { match: { headers: [{ name: 'x-gone', present: true }] }, version: 'v9' },
  ],
};

/** Circuit breaking and both outlier-detection algorithms, with some defaults left out. */
export const CLUSTER_POLICY = {
  maxRequests: 100,
  outlierDetection: {
    interval: '1s',
    baseEjectionTime: '5s',
    failurePercentage: { threshold: 50, minimumHosts: 3, requestVolume: 10 },
    successRate: { stdevFactor: 1000 },
  },
};

/** A small deterministic PRNG (mulberry32) in [0, 1): a randomised test that fails replays. */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
