// Micro-benchmark of what one registration change costs the snapshot pipeline at S services of
// 10 instances: the catalog, translation (cached per service), encoding (cached per resource),
// the diff, and the type versions. Prints the median ms of each step over 20 changes.
//   npx tsx bench/micro/rebuild.ts [services,...]
import { AliasEncodings, diffSnapshots, Snapshot } from '../../src/cache/snapshot';
import { PUSH_ORDER } from '../../src/proto/xds-types';
import { CatalogBuilder } from '../../src/registry/catalog';
import { translateForGrpc } from '../../src/translate/grpc/translate';
import { median } from '../lib/stats';
import { changeSvc0, seedServices } from './catalog-change';

const sizes = (process.argv[2] ?? '100,10000').split(',').map(Number);
for (const services of sizes) {
  const builder = new CatalogBuilder('/xds/policies/');
  seedServices(builder, services);
  const aliases = new AliasEncodings();
  let previous = Snapshot.encode(translateForGrpc(builder.snapshot(1)), aliases);
  const steps = ['catalog', 'translate', 'encode', 'diff', 'versions'] as const;
  const times = Object.fromEntries(steps.map((step) => [step, [] as number[]]));
  for (let change = 0; change < 30; change++) {
    const t0 = performance.now();
    const catalog = changeSvc0(builder, change);
    const t1 = performance.now();
    const resources = translateForGrpc(catalog);
    const t2 = performance.now();
    const next = Snapshot.encode(resources, aliases);
    const t3 = performance.now();
    diffSnapshots(previous, next);
    const t4 = performance.now();
    for (const type of PUSH_ORDER) next.typeVersion(type);
    const t5 = performance.now();
    for (const [step, ms] of [
      ['catalog', t1 - t0],
      ['translate', t2 - t1],
      ['encode', t3 - t2],
      ['diff', t4 - t3],
      ['versions', t5 - t4],
    ] as const)
      times[step].push(ms);
    previous = next;
  }
  // The first 10 changes warm the JIT up.
  const settled = (values: number[]): string => median(values.slice(10)).toFixed(2);
  console.log(
    `${services} services: ${steps.map((step) => `${step} ${settled(times[step])} ms`).join(', ')}`,
  );
}
