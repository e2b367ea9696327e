// Micro-benchmark of the snapshot pipeline in-process, without etcd or streams: the first snapshot
// of S services × 10 instances (translate everything, encode, the way a cold start does), then
// churn the way the registry feeds it: one catalog per change (as per etcd event), one snapshot
// update per 300 changes (as the debouncer coalesces them at 1,000 changes/s). Prints the cold
// build's time and heap, and the churn's time per 1,000 changes.
//   npx tsx bench/micro/cold-and-churn.ts [services,...]
import { AliasEncodings, Snapshot } from '../../src/cache/snapshot';
import { CatalogBuilder } from '../../src/registry/catalog';
import { translateForGrpc, updateForGrpc } from '../../src/translate/grpc/translate';
import { seedServices } from './catalog-change';

const BATCHES = 40;
const PER_BATCH = 300;

const heapMB = (): number => Math.round(process.memoryUsage().heapUsed / 2 ** 20);

for (const services of (process.argv[2] ?? '10000,100000').split(',').map(Number)) {
  const builder = new CatalogBuilder('/xds/policies/');
  seedServices(builder, services);
  let revision = 1;
  const t0 = performance.now();
  let catalog = builder.snapshot(revision++);
  let snapshot = Snapshot.encode(translateForGrpc(catalog), new AliasEncodings());
  const coldMs = performance.now() - t0;
  const coldHeap = heapMB();

  const t1 = performance.now();
  for (let batch = 0, change = 0; batch < BATCHES; batch++) {
    const changed = new Set<string>();
    for (let k = 0; k < PER_BATCH; k++, change++) {
      // Spread over every service; each of 5 extra keys is put, and deleted on its next turn.
      const s = (change * 7919) % services;
      const key = `/services/svc-${s}/churn-${change % 5}`;
      if (Math.floor(change / 5) % 2 === 0)
        builder.putRegistration(
          key,
          JSON.stringify({
            name: `svc-${s}`,
            id: `churn-${change % 5}`,
            version: 'v1',
            address: `10.200.${(s >> 8) & 255}.${((s & 255) % 250) + 1}:${9000 + (change % 5)}`,
          }),
        );
      else builder.deleteRegistration(key);
      catalog = builder.snapshot(revision++);
      for (const name of catalog.changes!.services) changed.add(name);
    }
    const { resources, touched } = updateForGrpc(snapshot.resourceSet, catalog, changed);
    snapshot = Snapshot.update(snapshot, resources, touched).snapshot;
  }
  const churnMs = performance.now() - t1;
  console.log(
    `${services} services: cold build ${(coldMs / 1000).toFixed(2)} s, heap ${coldHeap} MB; ` +
      `churn ${((churnMs / (BATCHES * PER_BATCH)) * 1000).toFixed(0)} ms per 1,000 changes, heap ${heapMB()} MB`,
  );
}
