// Bench scenario `large-catalog` (issue: one change costs what changed): a catalog of S services ×
// 10 instances, for each S of --large-services. Measured per size, each on a fresh server over the
// same etcd:
// - cold start: from spawning the server to /readyz, and its memory once ready;
// - one change: an instance of svc-0 added or removed, with 1,000 streams watching svc-0; the
//   server's rebuild time of that change (etcd_xds_rebuild_seconds: catalog in → every snapshot
//   and group updated, before the first push is written) and its arrival at every stream;
// - churn: --churn-rate changes a second over all services for --churn-seconds, 1,000 streams
//   spread over the first 1,000 services (the churn scenario's figures).
// With the peer scenario, go-control-plane is measured the same way on the same etcd, serving the
// LDS/RDS/CDS resources captured from etcd-xds (read from a file: its start does not translate
// them) and EDS it builds from etcd itself: its start to "listening", RSS, one change's arrival at
// 1,000 streams, and its CPU under the same churn (from /proc).
import { Etcd3 } from 'etcd3';
import { EtcdProcess } from '../testkit/etcd';
import { churn, peerChurn, type ChurnResult, type PeerChurnResult } from './churn';
import { captureResources, PeerProcess, type PeerResources } from './lib/peer';
import { median, round, type Summary } from './lib/stats';
import {
  etcdChange,
  log,
  lowestOf,
  measureRounds,
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
  /** go-control-plane on the same catalog, or why it could not be measured. */
  readonly peer?: PeerRow | { readonly error: string };
}

/** go-control-plane on the same catalog. */
export interface PeerRow {
  readonly cold: { readonly readyMs: number; readonly rssMB: number };
  readonly change: { readonly streams: number; readonly convergence: Summary; readonly missing: number };
  readonly churn?: PeerChurnResult;
}

async function peerSize(
  options: Options,
  etcdUrl: string,
  kv: Etcd3,
  binary: string,
  resources: PeerResources,
): Promise<PeerRow> {
  const started = now();
  // Loading the captured resources and listing etcd takes the peer ~1 minute per 100,000 services.
  const peer = await PeerProcess.start(binary, etcdUrl, resources, Math.max(60_000, options.services * 6));
  try {
    const readyMs = round(now() - started);
    const { rss } = await lowestOf(() => ({ rss: peer.rssBytes() }));
    const cold = { readyMs, rssMB: round(rss / MB) };
    log(`  go-control-plane cold start: ${JSON.stringify(cold)}`);
    const loadgen = startLoadgen();
    let change: PeerRow['change'];
    try {
      await openSpread(loadgen, peer.address, options.largeStreams, 1, options);
      await sleep(1_000);
      const rounds = await measureRounds(loadgen, options, (r) => etcdChange(kv, r));
      await loadgen.request({ cmd: 'close' }, 'closed');
      change = { streams: options.largeStreams, convergence: rounds.all, missing: rounds.missing };
      log(`  go-control-plane one change: ${JSON.stringify(change)}`);
    } finally {
      await loadgen.stop();
    }
    if (options.churnSeconds <= 0) return { cold, change };
    const churned = await peerChurn(
      kv,
      { ...options, churnStreams: Math.min(options.largeStreams, options.services) },
      peer,
    );
    log(`  go-control-plane churn: ${JSON.stringify(churned)}`);
    return { cold, change, churn: churned };
  } finally {
    await peer.stop();
  }
}

async function oneSize(
  options: Options,
  services: number,
  peerBinary: string | undefined,
): Promise<LargeCatalogRow> {
  const etcd = await EtcdProcess.start();
  const kv = new Etcd3({ hosts: etcd.url });
  try {
    const seedStart = now();
    await seed(kv, services, INSTANCES);
    const seedMs = round(now() - seedStart);
    log(`  ${services} services × ${INSTANCES} instances seeded in ${(seedMs / 1000).toFixed(1)} s`);
    const started = now();
    const server = await startServer(etcd, options);
    let row: Omit<LargeCatalogRow, 'churn' | 'peer'>;
    let peerResources: PeerResources | undefined;
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
        if (peerBinary !== undefined) peerResources = await captureResources(server.xdsAddress, services);
      } finally {
        await loadgen.stop();
      }
    } finally {
      await server.signal('SIGTERM').catch(() => undefined);
    }
    const sized = { ...options, services, churnStreams: Math.min(options.largeStreams, services) };
    let churned: ChurnResult | undefined;
    if (options.churnSeconds > 0) {
      churned = await churn(etcd, kv, sized);
      log(`  churn: ${JSON.stringify(churned)}`);
    }
    let peer: LargeCatalogRow['peer'];
    if (peerBinary !== undefined && peerResources !== undefined) {
      // The peer failing is a result of the run, not the end of it.
      peer = await peerSize(sized, etcd.url, kv, peerBinary, peerResources).catch((error: unknown) => {
        log(`  go-control-plane: ${(error as Error).message}`);
        return { error: (error as Error).message };
      });
    }
    return { ...row, churn: churned, peer };
  } finally {
    kv.close();
    await etcd.stop();
  }
}

/**
 * Each size of --large-services, appended to `rows` as it is measured; with `peerBinary`,
 * go-control-plane on each too.
 */
export async function largeCatalog(
  options: Options,
  peerBinary?: string,
  rows: LargeCatalogRow[] = [],
): Promise<LargeCatalogRow[]> {
  for (const services of options.largeServices) {
    log(`large-catalog: ${services} services`);
    rows.push(await oneSize(options, services, peerBinary));
  }
  return rows;
}
