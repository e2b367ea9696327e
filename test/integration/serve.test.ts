// `etcd-xds serve` as operators see it: readiness, admin endpoints, metrics, NACK reporting,
// graceful shutdown, and bad configuration.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdProcess } from '../../testkit/etcd';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { RawAdsClient } from '../../testkit/raw-ads-client';
import { runCli } from '../../testkit/run-cli';
import { ServerProcess } from '../../testkit/server-process';
import { CLUSTER, ENDPOINT, LISTENER } from '../../src/proto/xds-types';

describe('serve: readiness before etcd is reachable', () => {
  it('is alive but not ready, and answers no xDS request until the first catalog is translated', async () => {
    const clientPort = await freePort();
    const server = await ServerProcess.start(['--etcd', `http://127.0.0.1:${clientPort}`]);
    let etcd: EtcdProcess | undefined;
    const ads = new RawAdsClient(server.xdsAddress);
    try {
      assert.equal((await server.admin('/healthz')).status, 200);
      const notReady = await server.admin<{ ready: boolean; stale: boolean }>('/readyz');
      assert.equal(notReady.status, 503);
      assert.equal(notReady.body.ready, false);
      ads.send({ type_url: LISTENER.typeUrl, resource_names: ['app'] });
      assert.ok(await ads.silentFor(1_500), 'answered before etcd was listed');

      etcd = await EtcdProcess.start({ clientPort });
      const { value: ready } = await eventually(
        () => server.admin<{ ready: boolean; stale: boolean; revision: number }>('/readyz'),
        (r) => assert.equal(r.status, 200),
      );
      assert.deepEqual([ready.body.ready, ready.body.stale], [true, false]);
      const response = await ads.next();
      assert.equal(response.type_url, LISTENER.typeUrl);
      assert.deepEqual(response.resources, [], 'the listener does not exist, and now the server knows it');
    } finally {
      ads.close();
      await server.stop();
      await etcd?.stop();
    }
  });
});

describe('serve: admin endpoints and protocol reporting', () => {
  let mesh: Mesh;

  before(async () => {
    mesh = await Mesh.start();
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await eventually(
      () => mesh.server.admin<{ resources: { LDS: { resources: unknown[] } } }>('/debug/config_dump'),
      // The catalog updates at once; resources follow after the debounce.
      (r) => assert.equal(r.body.resources.LDS.resources.length, 1),
    );
  });

  after(async () => {
    await mesh?.stop();
  });

  it('config_dump shows the catalog and every resource, decoded', async () => {
    interface Dump {
      flavour: string;
      catalog: {
        revision: number;
        services: { name: string; instances: { id: string; address: string }[] }[];
      };
      resources: Record<
        string,
        { versionInfo: string; resources: { name: string; resource: { '@type'?: string } }[] }
      >;
    }
    const { status, body } = await mesh.server.admin<Dump>('/debug/config_dump');
    assert.equal(status, 200);
    assert.equal(body.flavour, 'grpc');
    assert.equal(body.catalog.services[0].name, 'app');
    assert.equal(body.catalog.services[0].instances[0].id, 'a1');
    assert.deepEqual(
      body.resources.CDS.resources.map((r) => r.name),
      ['app', 'app/v1'],
    );
    assert.deepEqual(
      body.resources.LDS.resources.map((r) => r.name),
      ['app'],
    );
    assert.match(JSON.stringify(body.resources.LDS), /HttpConnectionManager/);
    assert.equal((await mesh.server.admin('/debug/config_dump?flavour=nope')).status, 400);
  });

  it('/debug/clients and /metrics report subscriptions, ACKs and NACKs', async () => {
    const ads = new RawAdsClient(mesh.server.xdsAddress, { id: 'nacker', user_agent_name: 'raw' });
    try {
      ads.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'] });
      const first = await ads.next();
      assert.equal(first.resources.length, 1);
      ads.send({
        type_url: CLUSTER.typeUrl,
        resource_names: ['app'],
        response_nonce: first.nonce,
        version_info: '',
        error_detail: { code: 3, message: 'cluster app: I do not like it' },
      });
      assert.ok(await ads.silentFor(500), 'a NACK must not be answered with the same resources again');
      ads.send({ type_url: ENDPOINT.typeUrl, resource_names: ['app/v1'] });
      const eds = await ads.next();
      ads.send({
        type_url: ENDPOINT.typeUrl,
        resource_names: ['app/v1'],
        response_nonce: eds.nonce,
        version_info: eds.version_info,
      });

      interface Clients {
        clients: {
          node: { id: string } | null;
          kind: string;
          subscriptions: Record<
            string,
            {
              names: string[];
              lastAck: { versionInfo: string } | null;
              lastNack: { message: string; rejectedVersion: string } | null;
            }
          >;
        }[];
      }
      const { value } = await eventually(
        () => mesh.server.admin<Clients>('/debug/clients'),
        (r) => assert.ok(r.body.clients.find((c) => c.node?.id === 'nacker')?.subscriptions.EDS?.lastAck),
      );
      const client = value.body.clients.find((c) => c.node?.id === 'nacker')!;
      assert.equal(client.kind, 'other');
      assert.deepEqual(client.subscriptions.CDS.names, ['app']);
      assert.deepEqual(client.subscriptions.CDS.lastNack, {
        ...client.subscriptions.CDS.lastNack,
        message: 'cluster app: I do not like it',
        rejectedVersion: first.version_info,
      });
      assert.equal(client.subscriptions.EDS.lastAck?.versionInfo, eds.version_info);

      const metrics = (await mesh.server.admin<string>('/metrics')).body;
      for (const name of [
        'etcd_xds_connected_streams{client="other"} 1',
        'etcd_xds_nacks_total{type="CDS"} 1',
        'etcd_xds_pushes_total{type="CDS"}',
        'etcd_xds_requests_total{type="CDS",outcome="nack"} 1',
        'etcd_xds_invalid_registrations 0',
        'etcd_xds_registry_stale 0',
        'etcd_xds_services 1',
        'etcd_xds_instances 1',
        'etcd_xds_etcd_watch_revision',
        'etcd_xds_snapshot_build_seconds_count',
        'etcd_xds_process_resident_memory_bytes',
      ]) {
        assert.ok(metrics.includes(name), `metrics lack ${name}`);
      }
      const nackLog = await mesh.server.log.waitFor((l) => l.msg.startsWith('client rejected a response'));
      assert.equal(nackLog.node, 'nacker');
    } finally {
      ads.close();
    }
  });

  it('a request for a type it does not serve is ignored and the stream stays usable', async () => {
    const ads = new RawAdsClient(mesh.server.xdsAddress);
    try {
      ads.send({
        type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
        resource_names: ['x'],
      });
      assert.ok(await ads.silentFor(300));
      ads.send({ type_url: LISTENER.typeUrl, resource_names: ['app'] });
      assert.equal((await ads.next()).resources.length, 1);
    } finally {
      ads.close();
    }
  });
});

describe('serve: shutdown and bad configuration', () => {
  it('SIGTERM ends open streams cleanly and exits 0', async () => {
    const etcd = await EtcdProcess.start();
    const server = await ServerProcess.start(['--etcd', etcd.url]);
    const ads = new RawAdsClient(server.xdsAddress);
    try {
      ads.send({ type_url: LISTENER.typeUrl, resource_names: ['app'] });
      await ads.next();
      const started = performance.now();
      assert.equal(await server.signal('SIGTERM'), 0);
      const elapsed = performance.now() - started;
      const status = await ads.status;
      assert.equal(status.code, 0, `stream ended with ${status.code} ${status.details}`);
      console.log(`# SIGTERM with an open stream: exited 0 in ${elapsed.toFixed(0)} ms`);
      assert.ok(elapsed < 5_000);
    } finally {
      ads.close();
      await etcd.stop();
    }
  });

  const bad: [string, string[], RegExp][] = [
    ['a port out of range', ['--port', '70000'], /--port \/ ETCD_XDS_PORT/],
    ['an etcd endpoint without a scheme', ['--etcd', '127.0.0.1:2379'], /--etcd \/ ETCD_XDS_ETCD/],
    ['overlapping prefixes', ['--prefix', '/a/', '--policy-prefix', '/a/p/'], /must not contain one another/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what} with exit code 2 and a message naming the flag`, async () => {
      const result = await runCli(['serve', ...args]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /EXDS_BAD_CONFIG/);
      assert.match(result.stderr, message);
    });
  }
});

describe('serve: shutdown while etcd is unreachable', () => {
  it('exits 0 promptly on SIGTERM even with an etcd call in flight', async () => {
    const server = await ServerProcess.start(['--etcd', `http://127.0.0.1:${await freePort()}`]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const started = performance.now();
    assert.equal(await server.signal('SIGTERM', 10_000), 0);
    const elapsed = performance.now() - started;
    console.log(`# SIGTERM with etcd unreachable: exited 0 in ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 5_000);
  });
});

describe('serve: a signal during start-up', () => {
  it('SIGTERM right after start still shuts down gracefully and exits 0', async () => {
    for (let i = 0; i < 3; i++) {
      const server = await ServerProcess.start(['--etcd', `http://127.0.0.1:${await freePort()}`]);
      assert.equal(await server.signal('SIGTERM', 10_000), 0);
    }
  });
});
