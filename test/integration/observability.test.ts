// deploy/observability against the real tools: promtool checks and unit-tests the alert rules, and
// a real Prometheus (Debian's `prometheus`) scrapes a real etcd-xds that real clients use, loads
// the rules, and answers every query of the Grafana dashboard with data.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { grpcBootstrap } from '../../src/cli/bootstrap';
import { CLUSTER } from '../../src/proto/xds-types';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { RawAdsClient, refuseFirst } from '../../testkit/raw-ads-client';
import { ROOT } from '../../testkit/run-cli';
import { stopChild } from '../../testkit/stop-child';
import { XdsClientProcess } from '../../testkit/xds-client-process';

const DIR = path.join(ROOT, 'deploy/observability');
const run = promisify(execFile);

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

interface QueryResult {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('deploy/observability: alert rules and Grafana dashboard', () => {
  it('promtool checks the rules and passes their unit tests', async () => {
    const check = await run('promtool', ['check', 'rules', path.join(DIR, 'alerts.yaml')]);
    assert.match(check.stdout, /SUCCESS: 8 rules found/);
    const tests = await run('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: DIR });
    assert.match(tests.stdout, /SUCCESS/);
  });

  describe('a real Prometheus scraping a real etcd-xds', () => {
    let mesh: Mesh;
    let prometheus: ChildProcess | undefined;
    let prometheusUrl: string;
    let dir: string;
    const clients: { stop(): Promise<void> | void }[] = [];

    before(async () => {
      mesh = await Mesh.start();
      await mesh.addBackend({ service: 'app', id: 'a1', version: 'v1' });
      // Traffic for every series the dashboard reads: a grpc-js-xds client that calls (pushes,
      // ACKs, convergence), a policy change (a push of clusters), a bad registration, a client
      // that NACKs, and a request refused for its oversized name.
      const client = await XdsClientProcess.start(
        'grpc-js',
        grpcBootstrap({ servers: [mesh.server.xdsAddress], nodeId: 'observed' }),
      );
      clients.push(client);
      await eventually(
        () => client.call('xds:///app', { count: 2 }),
        (results) => assert.ok(results.every((r) => r.ok)),
      );
      await mesh.putPolicy('app', { lbPolicy: 'ring_hash', hashHeader: 'x-user' });
      await mesh.kv.put('/services/app/broken').value('{not json');
      const refuser = new RawAdsClient(mesh.server.xdsAddress, { id: 'refuser', user_agent_name: 'raw' });
      clients.push({ stop: () => refuser.close() });
      await refuseFirst(refuser, CLUSTER.typeUrl, ['app'], 'refused on purpose');
      const oversized = new RawAdsClient(mesh.server.xdsAddress, { id: 'oversized', user_agent_name: 'raw' });
      clients.push({ stop: () => oversized.close() });
      oversized.send({ type_url: CLUSTER.typeUrl, resource_names: ['x'.repeat(2_000)] });

      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-prometheus-'));
      const admin = new URL(mesh.server.adminUrl);
      fs.writeFileSync(
        path.join(dir, 'prometheus.yml'),
        [
          'global: {scrape_interval: 1s, evaluation_interval: 1s}',
          `rule_files: [${JSON.stringify(path.join(DIR, 'alerts.yaml'))}]`,
          'scrape_configs:',
          '  - job_name: etcd-xds',
          `    static_configs: [{targets: [${JSON.stringify(admin.host)}]}]`,
          '',
        ].join('\n'),
      );
      const port = await freePort();
      prometheusUrl = `http://127.0.0.1:${port}`;
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: 'ignore' },
      );
      await eventually(
        () =>
          fetch(`${prometheusUrl}/-/ready`)
            .then((r) => r.status)
            .catch(() => 0),
        (status) => assert.equal(status, 200),
        { timeoutMs: 30_000 },
      );
    });

    after(async () => {
      if (prometheus !== undefined) await stopChild(prometheus);
      for (const client of clients) await client.stop();
      await mesh?.stop();
      if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    });

    const query = async (expr: string): Promise<QueryResult> =>
      (await (
        await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
      ).json()) as QueryResult;

    it('scrapes it and loads every alert rule', async () => {
      await eventually(
        () => query('up{job="etcd-xds"}'),
        (result) => assert.equal(result.data.result[0]?.value[1], '1'),
        { timeoutMs: 30_000 },
      );
      const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
        data: { groups: { rules: { name: string; health: string }[] }[] };
      };
      const loaded = rules.data.groups.flatMap((group) => group.rules);
      assert.equal(loaded.length, 8);
      assert.deepEqual(
        loaded.filter((rule) => rule.health === 'err').map((rule) => rule.name),
        [],
      );
    });

    it('answers every query of the Grafana dashboard with data', async () => {
      const dashboard = JSON.parse(
        fs.readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8'),
      ) as Dashboard;
      const queries = dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })),
      );
      assert.ok(queries.length >= 14, `${queries.length} queries`);
      // Rates need two scrapes after the traffic; histograms and counters come with the first.
      const { value: empty } = await eventually(
        async () => {
          const missing: string[] = [];
          for (const { panel, expr } of queries) {
            const result = await query(expr);
            assert.equal(result.status, 'success', expr);
            if (result.data.result.length === 0) missing.push(`${panel}: ${expr}`);
          }
          return missing;
        },
        (missing) => assert.deepEqual(missing, []),
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      assert.deepEqual(empty, []);
      console.log(`# ${queries.length} dashboard queries answered with data by Prometheus`);
    });
  });
});
