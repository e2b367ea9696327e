// Builds catalogs for unit tests the way the registry does: from etcd keys and JSON values.
import { CatalogBuilder, type Catalog, type ServiceCatalog } from '../../src/registry/catalog';

export interface InstanceSpec {
  readonly service?: string;
  readonly id: string;
  readonly version?: string;
  readonly address: string;
  readonly weight?: number;
  readonly zone?: string;
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
