// Bench scenario `large-catalog` (issue: one change costs what changed): a catalog of S services ×
// 10 instances, for each S of --large-services. Measured per size, each on a fresh server over the
// same etcd:
// - cold start: from spawning the server to /readyz, and its memory once ready;
// - one change: an instance of svc-0 added or removed, with 1,000 streams watching svc-0; the
//   server's rebuild time of that change (etcd_xds_rebuild_seconds: catalog in → every snapshot
//   and group updated, before the first push is written) and its arrival at every stream;
// - churn: --churn-rate changes a second over all services for --churn-seconds, 1,000 streams
//   spread over the first 1,000 services (the churn scenario's figures).
import { Etcd3 } from 'etcd3';
import { EtcdProcess } from '../testkit/etcd';
import { churn, type ChurnResult } from './churn';
import { median, round, type Summary } from './lib/stats';
import {
  etcdChange,
  log,
  measureRoundsWithRebuild,
  memory,
  openSpread,
  seed,
  sleep,
  startLoadgen,
  startServer,
  waitReady,
  type Options,
} from './lib/world';
import { now } from './loadgen';

const MB = 2 ** 20;
const INSTANCES = 10;

export interface LargeCatalogRow {
  readonly services: number;
  readonly instances: number;
  readonly seedMs: number;
  readonly cold: { readonly readyMs: number; readonly rssMB: number; readonly heapMB: number };
  readonly change: {
    readonly streams: number;
    /** Median over the measured rounds of the server's rebuild time per change (ms). */
    readonly pipelineMs: number;
    readonly convergence: Summary;
    readonly missing: number;
  };
  readonly churn?: ChurnResult;
}

async function oneSize(options: Options, services: number): Promise<LargeCatalogRow> {
  const etcd = await EtcdProcess.start();
  const kv = new Etcd3({ hosts: etcd.url });
  try {
    const seedStart = now();
    await seed(kv, services, INSTANCES);
    const seedMs = round(now() - seedStart);
    log(`  ${services} services × ${INSTANCES} instances seeded in ${(seedMs / 1000).toFixed(1)} s`);
    const started = now();
    const server = await startServer(etcd, options);
    let row: Omit<LargeCatalogRow, 'churn'>;
    try {
      await waitReady(server);
      const readyMs = round(now() - started);
      const ready = await memory(server);
      const cold = { readyMs, rssMB: round(ready.rss / MB), heapMB: round(ready.heap / MB) };
      log(`  cold start: ${JSON.stringify(cold)}`);
      const loadgen = startLoadgen();
      try {
        await openSpread(loadgen, server.xdsAddress, options.largeStreams, 1, options);
        await sleep(1_000);
        const rounds = await measureRoundsWithRebuild(server, loadgen, options, (r) => etcdChange(kv, r));
        await loadgen.request({ cmd: 'close' }, 'closed');
        row = {
          services,
          instances: services * INSTANCES,
          seedMs,
          cold,
          change: {
            streams: options.largeStreams,
            pipelineMs: round(median(rounds.rebuildMs), 2),
            convergence: rounds.all,
            missing: rounds.missing,
          },
        };
        log(`  one change: ${JSON.stringify(row.change)}`);
      } finally {
        await loadgen.stop();
      }
    } finally {
      await server.signal('SIGTERM').catch(() => undefined);
    }
    if (options.churnSeconds <= 0) return row;
    const churned = await churn(etcd, kv, {
      ...options,
      services,
      churnStreams: Math.min(options.largeStreams, services),
    });
    log(`  churn: ${JSON.stringify(churned)}`);
    return { ...row, churn: churned };
  } finally {
    kv.close();
    await etcd.stop();
  }
}

export async function largeCatalog(options: Options): Promise<LargeCatalogRow[]> {
  const rows: LargeCatalogRow[] = [];
  for (const services of options.largeServices) {
    log(`large-catalog: ${services} services`);
    rows.push(await oneSize(options, services));
  }
  return rows;
}
