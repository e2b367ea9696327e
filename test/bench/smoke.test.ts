// Keeps the benchmark working (issue: CI runs a small version of it): every scenario at N = 200
// against a real etcd and the built server. Figures are not judged here — only that each
// scenario ran to the end, every simulated stream got every change, and results were written.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { LargeCatalogRow } from '../../bench/large-catalog';
import type { DashboardResult } from '../../bench/dashboard';
import type {
  AdminDumpResult,
  ChurnResult,
  ColdStartResult,
  ConvergenceResult,
  StuckStreamsResult,
} from '../../bench/run';
import { ROOT } from '../../testkit/run-cli';

/** Runs bench/run.ts with `args` (and an --out of its own); returns the results it wrote. */
async function runBench<T>(args: string[]): Promise<{ results: T; stdout: string }> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-bench-'));
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench/run.ts'), ...args, `--out=${out}`],
      { cwd: ROOT, maxBuffer: 16 << 20 },
    );
    const files = fs.readdirSync(out);
    const json = files.find((f) => f.endsWith('.json'));
    assert.ok(json, `results written: ${files.join(' ')}`);
    if (args.some((arg) => /^--scenarios=.*convergence/.test(arg)))
      assert.ok(
        files.some((f) => f.endsWith('-convergence.svg')),
        'plot written',
      );
    return { results: JSON.parse(fs.readFileSync(path.join(out, json), 'utf8')) as T, stdout };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

describe('npm run bench (smoke, N = 200)', () => {
  it('runs convergence (with the floor), memory, cold start, churn, admin dumps, stuck streams, a large catalog and the dashboard, and writes JSON and SVG', async (t) => {
    const streams = 200;
    const { results, stdout } = await runBench<{
      convergence: ConvergenceResult[];
      coldStart: ColdStartResult;
      churn: ChurnResult;
      adminDump: AdminDumpResult;
      stuckStreams: StuckStreamsResult;
      largeCatalog: LargeCatalogRow[];
      dashboard: DashboardResult;
    }>([
      `--streams=${streams}`,
      '--rounds=2',
      '--services=10',
      '--scenarios=convergence,memory,cold-start,churn,admin-dump,stuck-streams,large-catalog,dashboard',
      '--large-streams=20',
      '--churn-rate=200',
      '--churn-seconds=2',
      `--churn-streams=${streams}`,
      '--cold-services=100',
      '--cold-instances=10',
      `--cold-streams=${streams}`,
      '--dump-services=50',
      '--dump-requests=5',
      '--dump-streams=20',
      '--dump-limits=default,2',
      '--stuck-streams=3',
      '--stuck-rate=20',
      '--stuck-seconds=3',
      '--stuck-healthy=10',
      '--dashboard-services=10',
      '--dashboard-streams=20',
    ]);
    t.diagnostic(stdout.trim().split('\n').join(' | '));
    const [row] = results.convergence;
    assert.equal(row?.streams, streams);
    for (const side of [row.ours, row.floor]) {
      assert.equal(side.missing, 0, 'every stream got every change');
      assert.deepEqual(
        side.rounds.map((r) => r.n),
        [streams, streams],
      );
    }
    assert.ok(Number.isFinite(row.memory?.rssPerStreamKB), 'memory measured');
    assert.equal(results.coldStart.instances, 1000);
    assert.equal(results.coldStart.streams, streams);
    assert.ok(results.coldStart.allServedMs >= results.coldStart.readyMs);
    assert.ok(results.churn.changes >= 200, `churn wrote ${results.churn.changes} changes`);
    assert.ok(results.churn.snapshots > 0 && results.churn.snapshots <= results.churn.changes);
    assert.ok(results.churn.revisionLag.length >= 1);
    assert.ok(Number.isFinite(results.churn.convergeAfterStopMs));
    assert.deepEqual(
      results.adminDump.runs.map((run) => [run.limit, run.served + run.refused, run.failed, run.crashed]),
      [
        ['default', 5, 0, false],
        ['2', 5, 0, false],
      ],
    );
    for (const run of results.adminDump.runs) {
      assert.equal(run.quiet.n, 5 * 20, 'five changes timed at every healthy stream');
      assert.ok(run.duringDumps.n > 0 && run.dumpMB > 0);
    }
    assert.ok(results.stuckStreams.curve.length >= 2, 'memory sampled');
    assert.equal(results.stuckStreams.healthyAfter.n, 10);
    assert.ok(results.stuckStreams.healthyAfter.max < 10_000, 'every healthy stream got the last change');
    // large-catalog at --services (10): cold start, one change at 20 streams, churn.
    const [large] = results.largeCatalog;
    assert.equal(large.services, 10);
    assert.equal(large.instances, 100);
    assert.ok(large.cold.readyMs > 0 && large.cold.rssMB > 0);
    assert.equal(large.change.missing, 0, 'every stream got every change');
    assert.equal(large.change.convergence.n, 2 * 20);
    assert.ok(large.change.pipelineMs > 0, `pipeline ${large.change.pipelineMs} ms`);
    assert.ok((large.churn?.changes ?? 0) >= 200);
    // dashboard: the page loaded in Chromium and showed each change; what it fetched was counted.
    const { dashboard } = results;
    assert.equal(dashboard.update.rounds, 2);
    assert.ok(dashboard.firstLoad.kB > 50 && dashboard.firstLoad.requests >= 10, JSON.stringify(dashboard));
    assert.ok(dashboard.update.kB.p50 > 0);
    assert.deepEqual(dashboard.errors, []);
  });

  it('the node:http2 load generator converges like the grpc-js one (etcd-xds and the floor)', async () => {
    const { results } = await runBench<{ options: { loadgen: string }; convergence: ConvergenceResult[] }>([
      '--streams=100',
      '--rounds=2',
      '--warmup=1',
      '--services=10',
      '--scenarios=convergence',
      '--loadgen=http2',
    ]);
    assert.equal(results.options.loadgen, 'http2');
    const [row] = results.convergence;
    assert.equal(row.ours.missing, 0, 'every stream got every change from etcd-xds');
    assert.equal(row.floor.missing, 0, 'and from the floor');
    assert.equal(row.ours.all.n, 2 * 100);
  });

  it('runs go-control-plane (the peer) beside etcd-xds in convergence and on a large catalog', async () => {
    const { results } = await runBench<{ convergence: ConvergenceResult[]; largeCatalog: LargeCatalogRow[] }>(
      [
        '--streams=100',
        '--rounds=2',
        '--warmup=1',
        '--services=10',
        '--scenarios=convergence,peer,large-catalog',
        '--large-streams=20',
        '--churn-rate=200',
        '--churn-seconds=2',
      ],
    );
    const [row] = results.convergence;
    assert.ok(row.peer, 'the peer ran (Go builds it: bench/peers/build.sh)');
    assert.equal(row.peer.missing, 0, 'every stream got every change from the peer');
    assert.equal(row.peer.all.n, 2 * 100);
    assert.equal(row.peer.edsIdentical, true, 'the peer served the EDS content etcd-xds serves');
    const [large] = results.largeCatalog;
    const peer = large.peer;
    assert.ok(
      peer !== undefined && !('error' in peer),
      `the peer ran on the large catalog: ${JSON.stringify(peer)}`,
    );
    assert.ok(peer.cold.readyMs > 0 && peer.cold.rssMB > 0, JSON.stringify(peer.cold));
    assert.equal(peer.change.missing, 0);
    assert.equal(peer.change.convergence.n, 2 * 20);
    assert.ok((peer.churn?.changes ?? 0) >= 200 && Number.isFinite(peer.churn?.peerCpuPercent));
  });

  it('the micro-benchmarks run and print their figures', async () => {
    const run = async (script: string, arg: string): Promise<string> =>
      (
        await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, script), arg], {
          cwd: ROOT,
        })
      ).stdout;
    assert.match(
      await run('bench/micro/push-path.ts', '50'),
      /^50 streams: push \d+\.\d+ µs a stream, ACK \d+\.\d+ µs a stream$/m,
    );
    assert.match(
      await run('bench/micro/rebuild.ts', '20'),
      /^20 services: catalog [\d.]+ ms, translate [\d.]+ ms, snapshot [\d.]+ ms, versions [\d.]+ ms, total [\d.]+ ms, full [\d.]+ ms; first snapshot \d+ ms$/m,
    );
  });
});
