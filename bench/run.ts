// etcd-xds benchmarks: a real etcd, the built server (`node dist/cli/main.js serve`) and the
// load generator (bench/loadgen.ts, N simulated ADS streams) as separate processes on this
// machine. `npm run bench -- --help` lists the scenarios and options; BENCHMARKS.md has the method
// and the results.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { Etcd3 } from 'etcd3';
import { decodeToJson } from '../src/proto/proto-root';
import { ENDPOINT } from '../src/proto/xds-types';
import { compareStrings } from '../src/stable-order';
import { EtcdProcess } from '../testkit/etcd';
import type { ServerProcess } from '../testkit/server-process';
import { adminDump, stuckStreams, type AdminDumpResult, type StuckStreamsResult } from './hardening';
import { IpcChild } from './lib/child';
import { buildPeer, captureResources, captureResponse, PeerProcess, type PeerResources } from './lib/peer';
import { median, round } from './lib/stats';
import { writeConvergencePlot } from './lib/svg';
import {
  clustersOf,
  debug,
  etcdChange,
  log,
  measureRounds,
  memory,
  metrics,
  openSpread,
  SCENARIOS,
  seed,
  sleep,
  startLoadgen,
  startServer,
  waitReady,
  type Loadgen,
  type Options,
  type Rounds,
  type Scenario,
} from './lib/world';
import { now, type LoadgenTransport } from './loadgen';
import { churn, type ChurnResult } from './churn';
import { largeCatalog, type LargeCatalogRow } from './large-catalog';
import { dashboard } from './dashboard';
import { callerViews } from './views';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist/cli/main.js');

/** The DiscoveryResponse bytes a server sends for `names` of one type, as a client receives them. */
interface ConvergenceResult {
  streams: number;
  openMs: number;
  ours: Rounds;
  floor: Rounds;
  floorOpenMs: number;
  /** go-control-plane, when the peer scenario runs; edsIdentical: it served etcd-xds's EDS content. */
  peer?: Rounds & { openMs: number; edsIdentical: boolean };
  memory?: { rssPerStreamKB: number; heapPerStreamKB: number; rssBeforeMB: number; rssAfterMB: number };
  pushesPerRound: number;
  edsBytes: number;
}

/** Opens `streams` streams watching svc-0 on `target`, then measures the rounds; closes them. */
async function measureTarget(
  target: string,
  streams: number,
  options: Options,
  change: (round: number) => Promise<number>,
): Promise<Rounds & { openMs: number }> {
  const loadgen = startLoadgen();
  try {
    const opened = await openSpread(loadgen, target, streams, 1, options);
    await sleep(2_000);
    const rounds = await measureRounds(loadgen, options, change);
    await loadgen.request({ cmd: 'close' }, 'closed');
    return { ...rounds, openMs: round(opened.ms) };
  } finally {
    await loadgen.stop();
  }
}

async function convergence(
  etcd: EtcdProcess,
  kv: Etcd3,
  options: Options,
  streams: number,
  peerBinary: string | undefined,
): Promise<ConvergenceResult> {
  const server = await startServer(etcd, options);
  let loadgen: Loadgen | undefined;
  let edsBytes: Buffer;
  let peerResources: PeerResources | undefined;
  const result: Partial<ConvergenceResult> = { streams };
  try {
    await waitReady(server);
    const before = options.scenarios.includes('memory') ? await memory(server) : undefined;
    loadgen = startLoadgen();
    const opened = await openSpread(loadgen, server.xdsAddress, streams, 1, options);
    result.openMs = round(opened.ms);
    log(`  ${streams} streams open and served in ${opened.ms.toFixed(0)} ms`);
    await sleep(2_000);
    if (before) {
      const after = await memory(server);
      result.memory = {
        rssPerStreamKB: round((after.rss - before.rss) / streams / 1024, 2),
        heapPerStreamKB: round((after.heap - before.heap) / streams / 1024, 2),
        rssBeforeMB: round(before.rss / 2 ** 20),
        rssAfterMB: round(after.rss / 2 ** 20),
      };
      log(`  memory: ${JSON.stringify(result.memory)}`);
    }
    const pushesBefore = (await metrics(server)).get('etcd_xds_pushes_total{type="EDS"}') ?? 0;
    result.ours = await measureRounds(loadgen, options, (r) => etcdChange(kv, r));
    const pushes = ((await metrics(server)).get('etcd_xds_pushes_total{type="EDS"}') ?? 0) - pushesBefore;
    result.pushesPerRound = round(pushes / (options.warmup + options.rounds) / streams, 2);
    debug('capturing the EDS response');
    edsBytes = await captureResponse(server.xdsAddress, ENDPOINT.typeUrl, clustersOf('svc-0'));
    result.edsBytes = edsBytes.length;
    if (peerBinary !== undefined) peerResources = await captureResources(server.xdsAddress, options.services);
    await loadgen.request({ cmd: 'close' }, 'closed');
  } finally {
    await loadgen?.stop();
    await server.signal('SIGTERM').catch(() => undefined);
  }

  // The same streams against the floor server, pushed the same EDS bytes.
  debug('floor');
  const floor = new IpcChild<
    { cmd: 'listen' } | { cmd: 'push'; bytes: string },
    { ev: 'listening'; port: number } | { ev: 'pushed'; streams: number }
  >('floor.ts');
  try {
    const { port } = await floor.request({ cmd: 'listen' }, 'listening');
    const base64 = edsBytes.toString('base64');
    const { openMs, ...rounds } = await measureTarget(`127.0.0.1:${port}`, streams, options, async () => {
      const t0 = now();
      await floor.request({ cmd: 'push', bytes: base64 }, 'pushed');
      return t0;
    });
    result.floor = rounds;
    result.floorOpenMs = openMs;
  } finally {
    await floor.stop();
  }

  // go-control-plane: the same LDS/RDS/CDS bytes, EDS from the same etcd, the same changes.
  if (peerBinary !== undefined && peerResources !== undefined) {
    debug('go-control-plane');
    const peer = await PeerProcess.start(peerBinary, etcd.url, peerResources);
    try {
      const peerEds = await captureResponse(peer.address, ENDPOINT.typeUrl, clustersOf('svc-0'));
      // Same content: field order in the encoding differs (protobuf-go writes oneofs last) and
      // go-control-plane lists a response's resources in map order, so compare decoded and sorted.
      const content = (bytes: Buffer): string => {
        const response = decodeToJson('envoy.service.discovery.v3.DiscoveryResponse', bytes) as {
          resources: { cluster_name: string }[];
        };
        return JSON.stringify(
          response.resources.sort((a, b) => compareStrings(a.cluster_name, b.cluster_name)),
        );
      };
      const edsIdentical = content(peerEds) === content(edsBytes);
      if (!edsIdentical) {
        log('  WARNING: the peer serves different EDS content than etcd-xds');
        for (const [who, bytes] of [
          ['etcd-xds', edsBytes],
          ['peer', peerEds],
        ] as const)
          debug(
            `${who}: ${JSON.stringify(decodeToJson('envoy.service.discovery.v3.DiscoveryResponse', bytes))}`,
          );
      }
      result.peer = {
        ...(await measureTarget(peer.address, streams, options, (r) => etcdChange(kv, r))),
        edsIdentical,
      };
    } finally {
      await peer.stop();
    }
  }
  return result as ConvergenceResult;
}

// ---- cold start -------------------------------------------------------------------------------

interface ColdStartResult {
  services: number;
  instances: number;
  streams: number;
  seedMs: number;
  readyMs: number;
  allServedMs: number;
  rssMB: number;
}

async function coldStart(options: Options): Promise<ColdStartResult> {
  const etcd = await EtcdProcess.start();
  const kv = new Etcd3({ hosts: etcd.url });
  let server: ServerProcess | undefined;
  let loadgen: Loadgen | undefined;
  try {
    const total = options.coldServices * options.coldInstances;
    log(`cold start: seeding ${total} instances across ${options.coldServices} services`);
    const seedStart = now();
    await seed(kv, options.coldServices, options.coldInstances);
    const seedMs = now() - seedStart;
    loadgen = startLoadgen();
    // The load generator is up before the clock starts, so its own start-up is not timed.
    await loadgen.request({ cmd: 'stats' }, 'stats');
    const started = now();
    server = await startServer(etcd, options);
    // Streams connect while the server starts; they are answered once the first catalog is built.
    const opened = openSpread(loadgen, server.xdsAddress, options.coldStreams, options.coldServices, options);
    // Awaited below; if waiting for /readyz fails first, stopping the loadgen rejects it.
    opened.catch(() => undefined);
    await waitReady(server);
    const readyMs = now() - started;
    await opened;
    const allServedMs = now() - started;
    const rss = (await metrics(server)).get('etcd_xds_process_resident_memory_bytes') ?? Number.NaN;
    return {
      services: options.coldServices,
      instances: total,
      streams: options.coldStreams,
      seedMs: round(seedMs),
      readyMs: round(readyMs),
      allServedMs: round(allServedMs),
      rssMB: round(rss / 2 ** 20),
    };
  } finally {
    await loadgen?.stop();
    await server?.signal('SIGTERM').catch(() => undefined);
    kv.close();
    await etcd.stop();
  }
}

// ---- main ---------------------------------------------------------------------------------------

function machine(): object {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGB: round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

const list = (value: string): number[] => value.split(',').map(Number);

async function main(): Promise<void> {
  const program = new Command('bench')
    .description('etcd-xds benchmarks against a real etcd and N simulated ADS streams')
    .option('--streams <list>', 'stream counts for convergence and memory', '1000,5000,10000')
    .option(
      '--services <list>',
      'services in etcd (streams watch svc-0): the first for convergence, churn and peer; every one for large-catalog (default 100; large-catalog 10000,100000)',
    )
    .option('--instances <n>', 'instances per service', '10')
    .option('--rounds <n>', 'changes measured per stream count (alternately add and remove)', '6')
    .option('--warmup <n>', 'changes made first and not measured, on every server alike', '2')
    .addOption(
      new Option(
        '--scenarios <list>',
        `some of ${SCENARIOS.join(',')} (peer: go-control-plane beside etcd-xds in convergence and large-catalog)`,
      ).default(SCENARIOS.join(',')),
    )
    .option('--streams-per-channel <n>', 'ADS streams per HTTP/2 connection in the load generator', '100')
    .addOption(
      new Option(
        '--loadgen <transport>',
        "the load generator's streams: grpc-js's client stack, or gRPC framing on node:http2 (about a server's cost per message)",
      )
        .choices(['grpc-js', 'http2'])
        .default('grpc-js'),
    )
    .option('--debounce-ms <ms>', "the server's --debounce-ms", '50')
    .option('--cold-services <n>', 'cold start: services', '10000')
    .option('--cold-instances <n>', 'cold start: instances per service', '10')
    .option('--cold-streams <n>', 'cold start: streams, each watching one service', '10000')
    .option(
      '--server-node-args <args>',
      'extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=prof"',
      '',
    )
    .option('--churn-rate <n>', 'churn: registration changes per second', '1000')
    .option('--churn-seconds <n>', 'churn: how long', '60')
    .option('--churn-streams <n>', 'churn: streams, spread over the services', '1000')
    .option('--dump-services <n>', 'admin-dump: services in etcd (× --instances)', '10000')
    .option('--dump-requests <n>', 'admin-dump: /debug/config_dump requests at once', '100')
    .option('--dump-streams <n>', 'admin-dump: healthy streams timed meanwhile', '1000')
    .option(
      '--dump-limits <list>',
      'admin-dump: --max-admin-requests of each run ("default": the flag not given)',
      'default,100',
    )
    .option('--stuck-streams <n>', 'stuck-streams: streams that stop reading', '50')
    .option('--stuck-rate <n>', 'stuck-streams: changes per second to the service they watch', '50')
    .option('--stuck-seconds <n>', 'stuck-streams: how long', '300')
    .option('--stuck-healthy <n>', 'stuck-streams: healthy streams beside them', '100')
    .option('--large-streams <n>', 'large-catalog: streams watching the changed service', '1000')
    .option('--dashboard-services <n>', 'dashboard: services in etcd (× 10 instances)', '10000')
    .option('--dashboard-streams <n>', 'dashboard: streams while the page is open', '2000')
    .option('--server-cli <file>', 'the etcd-xds CLI script to run (another build, to compare)', CLI)
    .option('--out <dir>', 'where results go (JSON, SVG)', path.join(ROOT, 'bench/results'))
    .parse();
  const raw = program.opts<Record<string, string>>();
  const options: Options = {
    streams: list(raw.streams),
    services: raw.services === undefined ? 100 : list(raw.services)[0],
    instances: Number(raw.instances),
    rounds: Number(raw.rounds),
    warmup: Number(raw.warmup),
    scenarios: raw.scenarios.split(',') as Scenario[],
    streamsPerChannel: Number(raw.streamsPerChannel),
    loadgen: raw.loadgen as LoadgenTransport,
    debounceMs: Number(raw.debounceMs),
    coldServices: Number(raw.coldServices),
    coldInstances: Number(raw.coldInstances),
    coldStreams: Number(raw.coldStreams),
    churnRate: Number(raw.churnRate),
    churnSeconds: Number(raw.churnSeconds),
    churnStreams: Number(raw.churnStreams),
    out: raw.out,
    serverNodeArgs: raw.serverNodeArgs.split(' ').filter((a) => a !== ''),
    serverCli: path.resolve(raw.serverCli),
    dumpServices: Number(raw.dumpServices),
    dumpRequests: Number(raw.dumpRequests),
    dumpStreams: Number(raw.dumpStreams),
    dumpLimits: raw.dumpLimits.split(','),
    stuckStreams: Number(raw.stuckStreams),
    stuckRate: Number(raw.stuckRate),
    stuckSeconds: Number(raw.stuckSeconds),
    stuckHealthy: Number(raw.stuckHealthy),
    largeServices: raw.services === undefined ? [10_000, 100_000] : list(raw.services),
    largeStreams: Number(raw.largeStreams),
    dashboardServices: Number(raw.dashboardServices),
    dashboardStreams: Number(raw.dashboardStreams),
  };
  for (const s of options.scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
  if (!fs.existsSync(options.serverCli))
    throw new Error(`${options.serverCli} is missing: run \`npm run build\` first (npm run bench does)`);

  const date = new Date().toISOString();
  const results: Record<string, unknown> = { date, machine: machine(), options };
  log(`etcd-xds bench ${date} on ${JSON.stringify(results.machine)}`);

  // What was measured is written even if a scenario fails (with the error), then the failure is
  // reported: a long run keeps its results.
  try {
    const wants = (scenario: Scenario): boolean => options.scenarios.includes(scenario);
    // `peer` adds go-control-plane to convergence and to large-catalog; listed without
    // large-catalog it implies convergence.
    const convergenceWanted =
      wants('convergence') || wants('memory') || (wants('peer') && !wants('large-catalog'));
    const needsSeed = convergenceWanted || wants('churn');
    if (needsSeed) {
      const etcd = await EtcdProcess.start();
      const kv = new Etcd3({ hosts: etcd.url });
      try {
        await seed(kv, options.services, options.instances);
        const rows: ConvergenceResult[] = [];
        const peerBinary = options.scenarios.includes('peer') ? buildPeer() : undefined;
        if (options.scenarios.includes('peer') && peerBinary === undefined)
          log('peer: skipped, Go is not on PATH (the go-control-plane peer is built with Go 1.26)');
        for (const streams of convergenceWanted ? options.streams : []) {
          log(`convergence at N = ${streams}`);
          const row = await convergence(etcd, kv, options, streams, peerBinary);
          rows.push(row);
          const line = (name: string, r: Rounds): string =>
            `${name} p50 ${r.all.p50.toFixed(1)} p99 ${r.all.p99.toFixed(1)} max ${r.all.max.toFixed(1)} ms, missing ${r.missing}`;
          const maxRatio = (r: Rounds): string =>
            (median(row.ours.rounds.map((x) => x.max)) / median(r.rounds.map((x) => x.max))).toFixed(2);
          log(`  ${line('ours ', row.ours)}`);
          log(`  ${line('floor', row.floor)} | ours/floor (median round max) ${maxRatio(row.floor)}`);
          if (row.peer)
            log(
              `  ${line('go-control-plane', row.peer)} | ours/peer ${maxRatio(row.peer)} | same EDS content ${row.peer.edsIdentical}`,
            );
        }
        if (rows.length > 0) results.convergence = rows;
        if (options.scenarios.includes('churn')) {
          log(
            `churn: ${options.churnRate} changes/s for ${options.churnSeconds} s, ${options.churnStreams} streams`,
          );
          results.churn = await churn(etcd, kv, options);
          log(`  ${JSON.stringify(results.churn)}`);
        }
      } finally {
        kv.close();
        await etcd.stop();
      }
    }
    if (options.scenarios.includes('cold-start')) {
      const cold = await coldStart(options);
      log(`cold start: ${JSON.stringify(cold)}`);
      results.coldStart = cold;
    }
    if (options.scenarios.includes('admin-dump')) {
      log(
        `admin-dump: ${options.dumpRequests} concurrent /debug/config_dump at ${options.dumpServices} services, ${options.dumpStreams} healthy streams`,
      );
      results.adminDump = await adminDump(options);
    }
    if (options.scenarios.includes('stuck-streams')) {
      log(
        `stuck-streams: ${options.stuckStreams} streams stop reading, ${options.stuckRate} changes/s for ${options.stuckSeconds} s`,
      );
      const stuck = await stuckStreams(options);
      log(`  ${JSON.stringify({ ...stuck, curve: stuck.curve.length })}`);
      results.stuckStreams = stuck;
    }

    if (options.scenarios.includes('large-catalog')) {
      // With the peer scenario, go-control-plane on the same catalogs (where Go is installed).
      const rows: LargeCatalogRow[] = [];
      results.largeCatalog = rows;
      await largeCatalog(options, options.scenarios.includes('peer') ? buildPeer() : undefined, rows);
    }

    if (options.scenarios.includes('dashboard')) {
      log(
        `dashboard: /ui in headless Chromium, ${options.dashboardServices} services, ${options.dashboardStreams} streams`,
      );
      results.dashboard = await dashboard(options);
    }

    if (options.scenarios.includes('caller-views')) {
      log('caller-views: 1,000 streams over 100 caller label sets, 100 services, 10 with caller routes');
      const views = await callerViews(options);
      log(`  ratios caller / plain: ${JSON.stringify(views.ratios)}`);
      results.callerViews = views;
    }
  } catch (error) {
    results.error = (error as Error).stack ?? String(error);
    throw error;
  } finally {
    writeResults(options.out, date, results);
  }
}

function writeResults(out: string, date: string, results: Record<string, unknown>): void {
  fs.mkdirSync(out, { recursive: true });
  const stem = path.join(out, date.slice(0, 19).replace(/[:T]/g, '-'));
  fs.writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
  if (results.convergence)
    writeConvergencePlot(`${stem}-convergence.svg`, results.convergence as ConvergenceResult[]);
  log(`results: ${stem}.json`);
}

if (require.main === module)
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );

export type { AdminDumpResult, ChurnResult, ColdStartResult, ConvergenceResult, StuckStreamsResult };
