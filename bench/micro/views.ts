// Micro-benchmark of what views cost the cache per change: 100 services × 10 instances, 100 groups
// of clients with distinct caller labels, and caller routes on 10 services (svc-0 among them) or
// none. Each change adds or removes an instance of svc-0; prints the median ms of a rebuild (every
// view rebuilt and every group told what changed; no server) and, run with --expose-gc, the heap
// the cache (every snapshot and view) holds after the changes, garbage collected.
//   node --expose-gc --import tsx bench/micro/views.ts
import pino from 'pino';
import { SnapshotCache } from '../../src/cache/snapshot-cache';
import { Metrics } from '../../src/metrics';
import { CatalogBuilder } from '../../src/registry/catalog';
import { DEFAULT_TRANSLATE_SETTINGS, translator } from '../../src/translate/flavours';
import { LISTENER, PUSH_ORDER, ROUTE } from '../../src/proto/xds-types';
import { PushQueue } from '../../src/server/push-queue';
import { SubscriptionIndex } from '../../src/server/subscription-index';
import { median } from '../lib/stats';
import { changeSvc0, seedServices } from './catalog-change';

/** Heap in use after a full collection (undefined without --expose-gc). */
function liveHeap(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function measure(callerRoutes: boolean): { ms: number; retainedMB: number | undefined } {
  const builder = new CatalogBuilder('/xds/policies/');
  seedServices(builder, 100);
  for (let s = 0; s < 10; s++) {
    if (callerRoutes)
      builder.putPolicy(
        `/xds/policies/svc-${s}`,
        JSON.stringify({
          routes: Array.from({ length: 10 }, (_, m) => ({
            match: { caller: { service: `caller-${s * 10 + m}` } },
            version: 'v2',
          })),
        }),
      );
  }
  let cache: SnapshotCache | undefined = new SnapshotCache({
    translator: translator(DEFAULT_TRANSLATE_SETTINGS),
    debounceMs: 0,
    maxDelayMs: 0,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
  });
  // What the server does per group told of a change: find the streams it concerns (10 per group,
  // watching svc-0) and queue their push (the push itself runs later, outside the rebuild).
  let told = 0;
  const indexes = new Map<string, SubscriptionIndex<number>>();
  const queue = new PushQueue<number>(() => undefined, { schedule: (run) => run() });
  cache.subscribe((key, snapshot, changes, previous) => {
    told++;
    queue.enqueue(key, snapshot, changes, previous, indexes.get(key)?.affected(changes) ?? []);
  });
  cache.setCatalog(builder.snapshot(1));
  for (let j = 0; j < 100; j++) {
    const key = cache.acquire({
      flavour: 'grpc',
      labels: new Map([
        ['service', `caller-${j}`],
        ['version', 'v1'],
      ]),
    });
    const index = new SubscriptionIndex<number>();
    for (let k = 0; k < 10; k++) {
      for (const type of PUSH_ORDER) {
        const names = type === LISTENER || type === ROUTE ? ['svc-0'] : ['svc-0', 'svc-0/v1', 'svc-0/v2'];
        for (const name of names) index.add(type, name, j * 10 + k);
      }
    }
    indexes.set(key, index);
  }
  const times: number[] = [];
  for (let change = 0; change < 600; change++) {
    const catalog = changeSvc0(builder, change);
    const t0 = performance.now();
    cache.setCatalog(catalog);
    cache.flush();
    times.push(performance.now() - t0);
  }
  // What the cache holds: the heap with it, less the heap once it (and the groups' indexes and
  // queue, the same in both modes) is gone.
  const alive = liveHeap();
  cache.close();
  cache = undefined;
  indexes.clear();
  const gone = liveHeap();
  if (told === 0) throw new Error('no group was told of any change');
  const retainedMB = alive === undefined || gone === undefined ? undefined : (alive - gone) / 2 ** 20;
  return { ms: median(times.slice(100)), retainedMB };
}

// A first pass of each fills what is allocated once per process (compiled code, module caches),
// which would otherwise count against whichever runs first.
measure(false);
measure(true);
const plain = measure(false);
const caller = measure(true);
console.log(
  `rebuild per change: plain ${plain.ms.toFixed(2)} ms, 10 services with caller routes ${caller.ms.toFixed(2)} ms (${(caller.ms / plain.ms).toFixed(2)}×)`,
);
if (plain.retainedMB !== undefined && caller.retainedMB !== undefined)
  console.log(
    `held by the cache after a full GC: plain ${plain.retainedMB.toFixed(2)} MB, with caller routes ${caller.retainedMB.toFixed(2)} MB (${(caller.retainedMB / plain.retainedMB).toFixed(2)}×)`,
  );
