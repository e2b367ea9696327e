// Bench scenario `churn`: registration changes at a steady rate against one server with streams
// spread over the services; the server's CPU, how far its snapshots lag etcd, and how soon every
// stream settles after the last write.
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import type { EtcdProcess } from '../testkit/etcd';
import { eventually } from '../testkit/mesh';
import type { PeerProcess } from './lib/peer';
import { round } from './lib/stats';
import {
  instanceValue,
  metrics,
  openSpread,
  sleep,
  startLoadgen,
  startServer,
  waitReady,
  type Options,
} from './lib/world';
import { now } from './loadgen';

export interface ChurnResult {
  streams: number;
  services: number;
  targetRate: number;
  seconds: number;
  changes: number;
  achievedRate: number;
  serverCpuPercent: number;
  snapshots: number;
  coalescing: number;
  pushes: number;
  /** Per second: etcd revision minus the revision behind the served resources. */
  revisionLag: number[];
  /** The latest response on any stream, after the last write. */
  convergeAfterStopMs: number;
  /** Times the server listed etcd again during the churn (a healthy watch needs none). */
  relists: number;
}

/**
 * Writes --churn-rate registration changes a second over every service for --churn-seconds. Every
 * second, `revisionLag` gets etcd's revision minus `servedRevision()`, if given.
 */
async function writeChurn(
  kv: Etcd3,
  options: Pick<Options, 'churnRate' | 'churnSeconds' | 'services'>,
  servedRevision: (() => Promise<number>) | undefined,
  revisionLag: number[],
): Promise<{ changes: number; started: number; lastWrite: number; lastRevision: number }> {
  let changes = 0;
  let lastWrite = 0;
  let lastRevision = 0;
  const started = now();
  const perTick = Math.max(1, Math.round(options.churnRate / 100));
  let nextSample = started + 1_000;
  // 100 ticks a second, each writing its share; ticks that fall behind run back to back until
  // the writes are on schedule again, so the rate over the run holds.
  for (let tick = 0; now() - started < options.churnSeconds * 1_000; tick++) {
    const due = started + tick * 10;
    if (due > now()) await sleep(due - now());
    const writes: Promise<void>[] = [];
    for (let i = 0; i < perTick; i++) {
      const c = changes++;
      const key = `/services/svc-${c % options.services}/churn-${Math.floor(c / options.services) % 5}`;
      const put = Math.floor(c / (options.services * 5)) % 2 === 0;
      writes.push(
        (put
          ? kv.put(key).value(instanceValue(c % options.services, 5000 + (c % 5)))
          : kv.delete().key(key)
        ).then((result: { header: { revision: string } }) => {
          lastRevision = Math.max(lastRevision, Number(result.header.revision));
        }),
      );
    }
    await Promise.all(writes);
    lastWrite = now();
    if (servedRevision !== undefined && now() >= nextSample) {
      nextSample += 1_000;
      revisionLag.push(lastRevision - (await servedRevision()));
    }
  }
  return { changes, started, lastWrite, lastRevision };
}

/** The churn scenario against go-control-plane: its CPU (from /proc) and when its streams settle. */
export interface PeerChurnResult {
  streams: number;
  seconds: number;
  changes: number;
  achievedRate: number;
  peerCpuPercent: number;
  convergeAfterStopMs: number;
}

export async function peerChurn(kv: Etcd3, options: Options, peer: PeerProcess): Promise<PeerChurnResult> {
  const loadgen = startLoadgen();
  try {
    await openSpread(loadgen, peer.address, options.churnStreams, options.services, options);
    await sleep(1_000);
    const cpuBefore = peer.cpuSeconds();
    const beforeAt = now();
    const { changes, started, lastWrite } = await writeChurn(kv, options, undefined, []);
    const cpuSeconds = peer.cpuSeconds() - cpuBefore;
    const cpuWindowSeconds = (now() - beforeAt) / 1_000;
    const seconds = (lastWrite - started) / 1_000;
    // Settled: no stream has heard anything for 1 s (the peer does not say which revision it serves).
    const { value: stats } = await eventually(
      () => loadgen.request({ cmd: 'stats' }, 'stats'),
      (s) =>
        assert.ok(
          now() - s.lastResponseAt > 1_000,
          'the streams did not settle within 60 s of the last write',
        ),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    return {
      streams: options.churnStreams,
      seconds: round(seconds),
      changes,
      achievedRate: round(changes / seconds),
      peerCpuPercent: round((cpuSeconds / cpuWindowSeconds) * 100),
      convergeAfterStopMs: round(Math.max(0, stats.lastResponseAt - lastWrite)),
    };
  } finally {
    await loadgen.stop();
  }
}

export async function churn(etcd: EtcdProcess, kv: Etcd3, options: Options): Promise<ChurnResult> {
  const server = await startServer(etcd, options);
  const loadgen = startLoadgen();
  try {
    await waitReady(server);
    await openSpread(loadgen, server.xdsAddress, options.churnStreams, options.services, options);
    await sleep(1_000);
    const before = await metrics(server);
    const beforeAt = now();
    const sum = (m: Map<string, number>, prefix: string): number =>
      [...m].filter(([k]) => k.startsWith(prefix)).reduce((total, [, v]) => total + v, 0);
    const revisionLag: number[] = [];
    const { changes, lastWrite, started, lastRevision } = await writeChurn(
      kv,
      options,
      async () => {
        const m = await metrics(server);
        return m.get('etcd_xds_catalog_revision') ?? 0;
      },
      revisionLag,
    );
    const seconds = (lastWrite - started) / 1_000;
    // CPU over the churn itself, not the wait for convergence that follows.
    const atStop = await metrics(server);
    const cpuSeconds =
      (atStop.get('etcd_xds_process_cpu_seconds_total') ?? 0) -
      (before.get('etcd_xds_process_cpu_seconds_total') ?? 0);
    const cpuWindowSeconds = (now() - beforeAt) / 1_000;
    // Converged: the server serves etcd's last revision and no stream has heard anything for 1 s.
    const {
      value: { after, stats },
    } = await eventually(
      async () => ({ after: await metrics(server), stats: await loadgen.request({ cmd: 'stats' }, 'stats') }),
      ({ after: m, stats: s }) =>
        assert.ok(
          (m.get('etcd_xds_catalog_revision') ?? 0) >= lastRevision && now() - s.lastResponseAt > 1_000,
          'the streams did not settle within 60 s of the last write',
        ),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const snapshots =
      (after.get('etcd_xds_snapshots_total') ?? 0) - (before.get('etcd_xds_snapshots_total') ?? 0);
    return {
      streams: options.churnStreams,
      services: options.services,
      targetRate: options.churnRate,
      seconds: round(seconds),
      changes,
      achievedRate: round(changes / seconds),
      serverCpuPercent: round((cpuSeconds / cpuWindowSeconds) * 100),
      snapshots,
      coalescing: round(changes / Math.max(1, snapshots)),
      pushes: sum(after, 'etcd_xds_pushes_total') - sum(before, 'etcd_xds_pushes_total'),
      revisionLag,
      convergeAfterStopMs: round(Math.max(0, stats.lastResponseAt - lastWrite)),
      relists: sum(after, 'etcd_xds_etcd_relists_total') - sum(before, 'etcd_xds_etcd_relists_total'),
    };
  } finally {
    await loadgen.stop();
    await server.signal('SIGTERM').catch(() => undefined);
  }
}
