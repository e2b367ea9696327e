// The catalog the micro-benchmarks use, and the one change they time.
import type { Catalog, CatalogBuilder } from '../../src/registry/catalog';

/** Registers svc-0 … svc-<services − 1>, 10 instances each, half v1 and half v2. */
export function seedServices(builder: CatalogBuilder, services: number): void {
  for (let s = 0; s < services; s++)
    for (let i = 0; i < 10; i++)
      builder.putRegistration(
        `/services/svc-${s}/i${i}`,
        JSON.stringify({
          name: `svc-${s}`,
          id: `i${i}`,
          version: i % 2 ? 'v2' : 'v1',
          address: `10.${s >> 8}.${s & 255}.${i}:80`,
        }),
      );
}

/** Change n adds (even n) or removes (odd n) an extra instance of svc-0; revision n + 2. */
export function changeSvc0(builder: CatalogBuilder, change: number): Catalog {
  if (change % 2 === 0)
    builder.putRegistration(
      '/services/svc-0/x',
      JSON.stringify({ name: 'svc-0', id: 'x', version: 'v1', address: '10.9.9.9:80' }),
    );
  else builder.deleteRegistration('/services/svc-0/x');
  return builder.snapshot(change + 2);
}
