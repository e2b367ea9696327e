// Bench scenarios for what must not knock the server over (issue: hardening): many concurrent
// /debug/config_dump requests over a large catalog, and clients that stop reading under churn.
// Each measures the server's memory and how long healthy streams take to get a change meanwhile.
import * as fs from 'node:fs';
import { Etcd3 } from 'etcd3';
import { EtcdProcess } from '../testkit/etcd';
import type { ServerProcess } from '../testkit/server-process';
import { now } from './loadgen';
import { round, summarize, type Summary } from './lib/stats';
import {
  debug,
  etcdChange,
  instanceValue,
  log,
  metrics,
  openSpread,
  seed,
  sleep,
  startLoadgen,
  startServer,
  waitReady,
  type Loadgen,
  type Options,
} from './lib/world';

const MB = 2 ** 20;

/** Changes svc-0 and times the change's arrival at every stream; latencies in ms. */
async function measureChange(loadgen: Loadgen, kv: Etcd3, r: number, timeoutMs: number): Promise<number[]> {
  await loadgen.request({ cmd: 'mark' }, 'marked');
  const t0 = await etcdChange(kv, r);
  const arrivals = await loadgen.request({ cmd: 'await', timeoutMs }, 'arrivals');
  return arrivals.times.map((t) => (t === null ? timeoutMs : t - t0));
}

/**
 * The server's RSS (from /proc, so a server too busy to answer is still measured) and used heap
 * (from its /metrics, NaN when it does not answer within a second); undefined once it has exited.
 */
async function sample(server: ServerProcess): Promise<{ rssMB: number; heapMB: number } | undefined> {
  let rssMB: number;
  try {
    const status = await fs.promises.readFile(`/proc/${server.pid}/status`, 'utf8');
    rssMB = round(Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024);
  } catch {
    return undefined;
  }
  let heapMB = Number.NaN;
  try {
    const text = await (
      await fetch(`${server.adminUrl}/metrics`, { signal: AbortSignal.timeout(1_000) })
    ).text();
    heapMB = round(Number(/^etcd_xds_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]) / MB);
  } catch {
    // Busy: RSS alone.
  }
  return { rssMB, heapMB };
}

// ---- admin-dump ---------------------------------------------------------------------------------

export interface AdminDumpRun {
  /** --max-admin-requests given to the server ("default": none given). */
  limit: string;
  requests: number;
  served: number;
  refused: number;
  failed: number;
  dumpMB: number;
  /** From the first request to the last response's end. */
  allDoneMs: number;
  rssBeforeMB: number;
  rssPeakMB: number;
  heapPeakMB: number;
  /** The server died during the run, and the last thing it wrote to stderr. */
  crashed: boolean;
  crashReason?: string;
  /** Healthy streams: a change's arrival with no dump running, and while the dumps run. */
  quiet: Summary;
  duringDumps: Summary;
  changesDuringDumps: number;
}

export interface AdminDumpResult {
  services: number;
  instances: number;
  streams: number;
  runs: AdminDumpRun[];
}

export async function adminDump(options: Options): Promise<AdminDumpResult> {
  const etcd = await EtcdProcess.start();
  const kv = new Etcd3({ hosts: etcd.url });
  const runs: AdminDumpRun[] = [];
  try {
    await seed(kv, options.dumpServices, options.instances);
    for (const limit of options.dumpLimits) {
      log(`  --max-admin-requests ${limit}`);
      const run = await adminDumpRun(etcd, kv, options, limit);
      log(`    ${JSON.stringify(run)}`);
      runs.push(run);
    }
  } finally {
    kv.close();
    await etcd.stop();
  }
  return { services: options.dumpServices, instances: options.instances, streams: options.dumpStreams, runs };
}

async function adminDumpRun(
  etcd: EtcdProcess,
  kv: Etcd3,
  options: Options,
  limit: string,
): Promise<AdminDumpRun> {
  const server = await startServer(
    etcd,
    options,
    limit === 'default' ? [] : [`--max-admin-requests=${limit}`],
  );
  const loadgen = startLoadgen();
  let crashed = false;
  try {
    // Round 0 adds the extra instance: it must not be there from an earlier run.
    await kv.delete().key('/services/svc-0/bench-extra');
    await waitReady(server);
    await openSpread(loadgen, server.xdsAddress, options.dumpStreams, 1, options);
    await sleep(1_000);
    let r = 0;
    const quiet: number[] = [];
    for (let i = 0; i < 5; i++, r++) {
      quiet.push(...(await measureChange(loadgen, kv, r, 30_000)));
      await sleep(200);
    }
    const before = (await sample(server))!;
    let rssPeak = before.rssMB;
    let heapPeak = before.heapMB;
    let served = 0;
    let refused = 0;
    let failed = 0;
    let dumpBytes = 0;
    const started = now();
    const requests = Array.from({ length: options.dumpRequests }, async () => {
      try {
        const response = await fetch(`${server.adminUrl}/debug/config_dump`);
        const body = await response.arrayBuffer();
        if (response.status === 200) {
          served++;
          dumpBytes = body.byteLength;
        } else if (response.status === 503) refused++;
        else failed++;
      } catch {
        failed++;
      }
    });
    let finished = false;
    const all = Promise.all(requests).then(() => (finished = true));
    const during: number[] = [];
    let changes = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await sample(server);
        if (s === undefined) {
          crashed = true;
          return;
        }
        rssPeak = Math.max(rssPeak, s.rssMB);
        if (Number.isFinite(s.heapMB)) heapPeak = Math.max(heapPeak, s.heapMB);
        await sleep(100);
      }
    })();
    while (!finished && !crashed) {
      during.push(...(await measureChange(loadgen, kv, r++, 10_000)));
      changes++;
      await sleep(100);
    }
    sampling = false;
    await sampler;
    await all;
    const allDoneMs = now() - started;
    crashed ||= !(await alive(server));
    // The line that says why (e.g. "FATAL ERROR: … JavaScript heap out of memory"), not the stack.
    const stderr = server.log.other.split('\n');
    const crashReason = crashed
      ? (stderr.find((line) => /FATAL|out of memory|Error/.test(line)) ?? stderr.at(-1))?.trim().slice(0, 300)
      : undefined;
    return {
      limit,
      requests: options.dumpRequests,
      served,
      refused,
      failed,
      dumpMB: round(dumpBytes / MB),
      allDoneMs: round(allDoneMs),
      rssBeforeMB: before.rssMB,
      rssPeakMB: rssPeak,
      heapPeakMB: heapPeak,
      crashed,
      crashReason,
      quiet: summarize(quiet),
      duringDumps: summarize(during),
      changesDuringDumps: changes,
    };
  } finally {
    await loadgen.stop();
    await server.signal('SIGTERM').catch(() => undefined);
  }
}

async function alive(server: ServerProcess): Promise<boolean> {
  try {
    return (await server.admin('/healthz')).status === 200;
  } catch {
    return false;
  }
}

// ---- stuck-streams ------------------------------------------------------------------------------

export interface StuckStreamsResult {
  stuckStreams: number;
  healthyStreams: number;
  ratePerSecond: number;
  seconds: number;
  changes: number;
  /** Every 10 s from when the streams got stuck: seconds, RSS and used heap (MB). */
  curve: { s: number; rssMB: number; heapMB: number }[];
  /** Last minus first sample, and the highest sample minus the first. */
  rssGrowthMB: number;
  rssPeakGrowthMB: number;
  heapGrowthMB: number;
  heldPushes: number;
  stalledStreams: number;
  /** Healthy streams: the arrival of a change made after the churn, and whether all got it. */
  healthyAfter: Summary;
}

export async function stuckStreams(options: Options): Promise<StuckStreamsResult> {
  const etcd = await EtcdProcess.start();
  const kv = new Etcd3({ hosts: etcd.url });
  let server: ServerProcess | undefined;
  const healthy = startLoadgen();
  const stuck = startLoadgen();
  try {
    await seed(kv, options.services, options.instances);
    server = await startServer(etcd, options);
    await waitReady(server);
    await openSpread(healthy, server.xdsAddress, options.stuckHealthy, 1, options);
    await stuck.request(
      {
        cmd: 'open',
        target: server.xdsAddress,
        streams: options.stuckStreams,
        subscriptions: [{ service: 'svc-0', clusters: ['svc-0', 'svc-0/v1', 'svc-0/v2'] }],
        streamsPerChannel: 1,
        stuck: true,
      },
      'opened',
    );
    const curve: StuckStreamsResult['curve'] = [];
    const started = now();
    let nextSample = started;
    let changes = 0;
    // Each change adds or removes one of 5 extra instances of svc-0, which every stream watches.
    for (let tick = 0; now() - started < options.stuckSeconds * 1_000; tick++) {
      if (now() >= nextSample) {
        const s = await sample(server);
        if (s !== undefined) curve.push({ s: round((now() - started) / 1_000), ...s });
        debug(`stuck-streams ${JSON.stringify(curve.at(-1))}`);
        nextSample += 10_000;
      }
      const due = started + (tick * 1_000) / options.stuckRate;
      if (due > now()) await sleep(due - now());
      const key = `/services/svc-0/stuck-${changes % 5}`;
      if (Math.floor(changes / 5) % 2 === 0) await kv.put(key).value(instanceValue(0, 5000 + (changes % 5)));
      else await kv.delete().key(key);
      changes++;
    }
    const last = await sample(server);
    if (last !== undefined) curve.push({ s: round((now() - started) / 1_000), ...last });
    const m = await metrics(server);
    await sleep(500);
    const healthyAfter = summarize(await measureChange(healthy, kv, 0, 10_000));
    const first = curve[0];
    return {
      stuckStreams: options.stuckStreams,
      healthyStreams: options.stuckHealthy,
      ratePerSecond: options.stuckRate,
      seconds: options.stuckSeconds,
      changes,
      curve,
      rssGrowthMB: round(curve.at(-1)!.rssMB - first.rssMB),
      rssPeakGrowthMB: round(Math.max(...curve.map((c) => c.rssMB)) - first.rssMB),
      heapGrowthMB: round(curve.at(-1)!.heapMB - first.heapMB),
      heldPushes: m.get('etcd_xds_held_pushes_total{reason="not-reading"}') ?? 0,
      stalledStreams: m.get('etcd_xds_stalled_streams') ?? 0,
      healthyAfter,
    };
  } finally {
    await healthy.stop();
    await stuck.stop();
    await server?.signal('SIGTERM').catch(() => undefined);
    kv.close();
    await etcd.stop();
  }
}
