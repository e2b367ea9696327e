// Micro-benchmark of what one registration change costs the snapshot pipeline at S services of
// 10 instances, the way the cache builds a plain gRPC snapshot: the catalog (built from the
// previous one), translation of the changed service into the previous resource set, and the
// snapshot with its changes and type versions (Snapshot.update). For comparison, the same change
// through the full path (translate everything, encode, diff; 5 of the changes). Prints the
// median ms of each step over 40 changes, after 20 that warm the JIT up.
//   npx tsx bench/micro/rebuild.ts [services,...]
import { AliasEncodings, diffSnapshots, Snapshot } from '../../src/cache/snapshot';
import { PUSH_ORDER } from '../../src/proto/xds-types';
import { CatalogBuilder } from '../../src/registry/catalog';
import { translateForGrpc, updateForGrpc } from '../../src/translate/grpc/translate';
import { median } from '../lib/stats';
import { changeSvc0, seedServices } from './catalog-change';

const sizes = (process.argv[2] ?? '100,10000').split(',').map(Number);
for (const services of sizes) {
  const builder = new CatalogBuilder('/xds/policies/');
  seedServices(builder, services);
  const aliases = new AliasEncodings();
  const t = performance.now();
  let previous = Snapshot.encode(translateForGrpc(builder.snapshot(1)), aliases);
  for (const type of PUSH_ORDER) previous.typeVersion(type);
  const coldMs = performance.now() - t;
  const steps = ['catalog', 'translate', 'snapshot', 'versions', 'total', 'full'] as const;
  const times = Object.fromEntries(steps.map((step) => [step, [] as number[]]));
  for (let change = 0; change < 60; change++) {
    const t0 = performance.now();
    const catalog = changeSvc0(builder, change);
    const t1 = performance.now();
    const { resources, touched } = updateForGrpc(previous.resourceSet, catalog, catalog.changes!.services);
    const t2 = performance.now();
    const { snapshot: next } = Snapshot.update(previous, resources, touched);
    const t3 = performance.now();
    for (const type of PUSH_ORDER) next.typeVersion(type);
    const t4 = performance.now();
    for (const [step, ms] of [
      ['catalog', t1 - t0],
      ['translate', t2 - t1],
      ['snapshot', t3 - t2],
      ['versions', t4 - t3],
      ['total', t4 - t0],
    ] as const)
      times[step].push(ms);
    // The full path, for comparison (not part of the total): on every 8th settled change only,
    // as it takes seconds at 100,000 services.
    if (change >= 20 && change % 8 === 0) {
      const t5 = performance.now();
      const full = Snapshot.encode(translateForGrpc(catalog), aliases);
      diffSnapshots(previous, full);
      for (const type of PUSH_ORDER) full.typeVersion(type);
      times.full.push(performance.now() - t5);
    }
    previous = next;
  }
  const settled = (values: number[]): string =>
    median(values.length === 60 ? values.slice(20) : values).toFixed(3);
  console.log(
    `${services} services: ${steps.map((step) => `${step} ${settled(times[step])} ms`).join(', ')}; first snapshot ${coldMs.toFixed(0)} ms`,
  );
}
