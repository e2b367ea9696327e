// What every bench scenario stands on: the options, etcd content, the server under test, the load
// generator, and the server's own figures.
import assert from 'node:assert/strict';
import { type Etcd3 } from 'etcd3';
import type { EtcdProcess } from '../../testkit/etcd';
import { eventually } from '../../testkit/mesh';
import { ServerProcess } from '../../testkit/server-process';
import { now, type LoadgenCommand, type LoadgenEvent, type LoadgenTransport } from '../loadgen';
import { IpcChild } from './child';
import { summarize, type Summary } from './stats';

export const SCENARIOS = [
  'convergence',
  'memory',
  'cold-start',
  'churn',
  'peer',
  'admin-dump',
  'stuck-streams',
  'caller-views',
  'large-catalog',
  'dashboard',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
  streams: number[];
  services: number;
  instances: number;
  rounds: number;
  /** Changes made and awaited first, not measured (the servers' JIT warms up). */
  warmup: number;
  scenarios: Scenario[];
  streamsPerChannel: number;
  debounceMs: number;
  coldServices: number;
  coldInstances: number;
  coldStreams: number;
  churnRate: number;
  churnSeconds: number;
  churnStreams: number;
  out: string;
  serverNodeArgs: string[];
  /** The server to run (`etcd-xds` CLI script): another build can be measured the same way. */
  serverCli: string;
  /** admin-dump: services (× instances) in etcd, requests at once, healthy streams, --max-admin-requests runs. */
  dumpServices: number;
  dumpRequests: number;
  dumpStreams: number;
  dumpLimits: string[];
  /** stuck-streams: streams that stop reading, changes per second, how long, healthy streams. */
  stuckStreams: number;
  stuckRate: number;
  stuckSeconds: number;
  stuckHealthy: number;
  /** large-catalog: the catalog sizes (services × 10 instances), and the streams watching svc-0. */
  largeServices: number[];
  largeStreams: number;
  /** The load generator's transport: grpc-js's client stack, or gRPC framing on node:http2. */
  loadgen: LoadgenTransport;
  /** dashboard: services (× 10 instances) and streams while the page is open. */
  dashboardServices: number;
  dashboardStreams: number;
}

export type Loadgen = IpcChild<LoadgenCommand, LoadgenEvent>;

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function debug(line: string): void {
  if (process.env.BENCH_VERBOSE) log(`    ${line}`);
}

// ---- etcd content -------------------------------------------------------------------------------

export function instanceValue(service: number, instance: number): string {
  return JSON.stringify({
    name: `svc-${service}`,
    id: `i-${instance}`,
    version: `v${(instance % 2) + 1}`,
    address: `10.${(service >> 8) & 255}.${service & 255}.${(instance % 250) + 1}:${8000 + Math.floor(instance / 250)}`,
  });
}

/** Writes services × instances registrations, 128 per transaction, a few transactions at once. */
export async function seed(kv: Etcd3, services: number, instances: number): Promise<void> {
  const keys: [string, string][] = [];
  for (let s = 0; s < services; s++) {
    for (let i = 0; i < instances; i++) keys.push([`/services/svc-${s}/i-${i}`, instanceValue(s, i)]);
  }
  const batches: [string, string][][] = [];
  for (let i = 0; i < keys.length; i += 128) batches.push(keys.slice(i, i + 128));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++];
      await kv
        .if('/bench/none', 'Version', '==', 0)
        .then(...batch.map(([k, v]) => kv.put(k).value(v)))
        .commit();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** Round r adds (even r) or removes (odd r) one instance of svc-0 in etcd; returns when it started. */
export async function etcdChange(kv: Etcd3, r: number): Promise<number> {
  const t0 = now();
  if (r % 2 === 0) await kv.put('/services/svc-0/bench-extra').value(instanceValue(0, 9999));
  else await kv.delete().key('/services/svc-0/bench-extra');
  return t0;
}

export const clustersOf = (service: string): string[] => [service, `${service}/v1`, `${service}/v2`];

export const startLoadgen = (): Loadgen => new IpcChild<LoadgenCommand, LoadgenEvent>('loadgen.ts');

/** Opens `streams` streams, stream i watching service `svc-<i mod services>` (1: all watch svc-0). */
export function openSpread(
  loadgen: Loadgen,
  target: string,
  streams: number,
  services: number,
  options: Options,
): Promise<Extract<LoadgenEvent, { ev: 'opened' }>> {
  return loadgen.request(
    {
      cmd: 'open',
      target,
      streams,
      subscriptions: Array.from({ length: services }, (_, s) => ({
        service: `svc-${s}`,
        clusters: clustersOf(`svc-${s}`),
      })),
      streamsPerChannel: options.streamsPerChannel,
      transport: options.loadgen,
    },
    'opened',
  );
}

// ---- the server's own numbers -------------------------------------------------------------------

export async function metrics(server: ServerProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The lowest of a few samples of RSS and used heap (GC makes single samples noisy). */
export function memory(server: ServerProcess): Promise<{ rss: number; heap: number }> {
  return lowestOf(async () => {
    const m = await metrics(server);
    return {
      rss: m.get('etcd_xds_process_resident_memory_bytes') ?? Infinity,
      heap: m.get('etcd_xds_nodejs_heap_size_used_bytes') ?? Infinity,
    };
  });
}

/** Each value's lowest over 5 readings 400 ms apart (a single reading may catch garbage not yet collected). */
export async function lowestOf<K extends string>(
  read: () => Promise<Record<K, number>> | Record<K, number>,
): Promise<Record<K, number>> {
  let lowest: Record<K, number> | undefined;
  for (let i = 0; i < 5; i++) {
    const reading = await read();
    if (lowest === undefined) lowest = reading;
    else for (const key in reading) lowest[key] = Math.min(lowest[key], reading[key]);
    await sleep(400);
  }
  return lowest!;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startServer(
  etcd: EtcdProcess,
  options: Options,
  extraArgs: readonly string[] = [],
): Promise<ServerProcess> {
  return ServerProcess.spawn(
    [
      ...options.serverNodeArgs,
      options.serverCli,
      'serve',
      `--etcd=${etcd.url}`,
      '--host=127.0.0.1',
      '--port=0',
      '--admin-port=0',
      '--log-level=info',
      `--debounce-ms=${options.debounceMs}`,
      ...extraArgs,
    ],
    { env: { PATH: process.env.PATH } },
  );
}

export async function waitReady(server: ServerProcess, timeoutMs = 600_000): Promise<void> {
  await eventually(
    () => server.admin('/readyz'),
    ({ status }) => assert.equal(status, 200, 'server not ready'),
    { timeoutMs, intervalMs: 20 },
  );
}

// ---- convergence: etcd-xds vs the transport floor ----------------------------------------------

export interface Rounds {
  /** Per round: summary of every stream's latency (ms). */
  rounds: Summary[];
  /** All streams of all rounds. */
  all: Summary;
  missing: number;
}

export async function measureRounds(
  loadgen: Loadgen,
  { rounds, warmup }: Pick<Options, 'rounds' | 'warmup'>,
  change: (round: number) => Promise<number>,
): Promise<Rounds> {
  const perRound: Summary[] = [];
  const samples: number[] = [];
  let missing = 0;
  for (let r = 0; r < warmup + rounds; r++) {
    await sleep(300);
    await loadgen.request({ cmd: 'mark' }, 'marked');
    const t0 = await change(r);
    const arrivals = await loadgen.request({ cmd: 'await', timeoutMs: 30_000 }, 'arrivals');
    const latencies = arrivals.times.filter((t): t is number => t !== null).map((t) => t - t0);
    const summary = summarize(latencies);
    const lost = arrivals.times.length - latencies.length;
    debug(`${r < warmup ? 'warm-up ' : ''}round ${r}: ${JSON.stringify(summary)} missing ${lost}`);
    if (r < warmup) continue;
    missing += lost;
    perRound.push(summary);
    samples.push(...latencies);
  }
  return { rounds: perRound, all: summarize(samples), missing };
}

/**
 * measureRounds, with the server's rebuild time of each measured round's change: its
 * etcd_xds_rebuild_seconds histogram read as each change starts, two readings in a row bracketing
 * one change's rebuilds (nothing else changes meanwhile). rebuildMs: per measured round (ms).
 */
export async function measureRoundsWithRebuild(
  server: ServerProcess,
  loadgen: Loadgen,
  options: Pick<Options, 'rounds' | 'warmup'>,
  change: (round: number) => Promise<number>,
): Promise<Rounds & { rebuildMs: number[] }> {
  const readings: Map<string, number>[] = [];
  const rounds = await measureRounds(loadgen, options, async (r) => {
    readings.push(await metrics(server));
    return change(r);
  });
  readings.push(await metrics(server));
  const rebuildMs = readings.slice(options.warmup + 1).map((after, i) => {
    const before = readings[options.warmup + i];
    const delta = (series: string): number => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    return (
      (delta('etcd_xds_rebuild_seconds_sum') / Math.max(1, delta('etcd_xds_rebuild_seconds_count'))) * 1000
    );
  });
  return { ...rounds, rebuildMs };
}
