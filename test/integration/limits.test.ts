// The limits that protect the server (contract §13), against the real server: connection age and
// idle limits with a real grpc-js-xds client calling throughout, the stream cap, client strings cut
// in log lines, per-stream rate limits on warnings, and delta initial_resource_versions bounded.
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CLUSTER, ENDPOINT } from '../../src/proto/xds-types';
import { MAX_LOGGED_TEXT } from '../../src/logger';
import { useMesh } from '../../testkit/hooks';
import { CallLoad } from '../../testkit/load';
import { eventually } from '../../testkit/mesh';
import { RawAdsClient, RawDeltaClient } from '../../testkit/raw-ads-client';
import { XdsClientProcess } from '../../testkit/xds-client-process';

interface Clients {
  clients: {
    stream: number;
    node: { id: string };
    subscriptions: Record<
      string,
      { names: string[]; lastSent: { resources: Record<string, string> } | null }
    >;
  }[];
}

/** A mesh with one backend of `app`, the server started with `serverArgs`. */
const withApp = (serverArgs: string[] = []) =>
  useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'a1', version: 'v1' });
  }, serverArgs);

describe('--max-connection-age', () => {
  const fixture = withApp(['--max-connection-age', '2s', '--max-connection-age-grace', '500ms']);

  it('closes client connections as they age; a grpc-js-xds client reconnects and fails no call', async () => {
    const { mesh } = fixture;
    const client = fixture.track(await XdsClientProcess.start('grpc-js', mesh.bootstrap('ageing')));
    const load = new CallLoad(client, 'xds:///app');
    const disconnects = (): number =>
      mesh.server.log.lines.filter((l) => l.msg === 'xDS client disconnected' && l.node === 'ageing').length;
    // Three connection lifetimes (2 s ± 10 %, then 0.5 s of grace).
    await eventually(
      () => disconnects(),
      (n) => assert.ok(n >= 3, `${n} disconnects`),
      { timeoutMs: 20_000 },
    );
    // A change made now still reaches the client on its latest connection.
    await mesh.addBackend({ id: 'b1', version: 'v2' });
    await eventually(
      () => client.call('xds:///app', { metadata: { version: 'v2' } }),
      (results) =>
        assert.deepEqual(
          results.map((r) => r.ok && r.id),
          ['b1'],
        ),
    );
    await load.stop();
    console.log(`# ${disconnects()} connections aged out; ${load.describe()}`);
    assert.ok(load.calls > 50, load.describe());
    assert.deepEqual(load.failures, []);
  });
});

describe('--max-connection-idle', () => {
  const fixture = withApp(['--max-connection-idle', '1s']);

  it('closes a connection that has no stream, and keeps one whose stream is open', async () => {
    const { mesh } = fixture;
    const idle = http2.connect(`http://${mesh.server.xdsAddress}`);
    idle.on('error', () => undefined);
    const opened = performance.now();
    const closedAfter = await new Promise<number>((resolve) =>
      idle.once('close', () => resolve(performance.now() - opened)),
    );
    console.log(`# a connection without a stream was closed after ${closedAfter.toFixed(0)} ms`);
    assert.ok(closedAfter >= 900 && closedAfter < 5_000, `${closedAfter} ms`);

    const busy = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'busy', user_agent_name: 'raw' }),
    );
    busy.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'] });
    await busy.next();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await mesh.addBackend({ id: 'a2', version: 'v1' });
    busy.send({ type_url: ENDPOINT.typeUrl, resource_names: ['app'] });
    assert.equal((await busy.next()).type_url, ENDPOINT.typeUrl, 'the stream outlived the idle limit');
  });
});

describe('--max-streams', () => {
  const fixture = withApp(['--max-streams', '2']);

  it('refuses streams beyond the cap with RESOURCE_EXHAUSTED and a metric; a freed slot is used again', async () => {
    const { mesh } = fixture;
    const connect = (id: string): RawAdsClient => {
      const client = fixture.track(new RawAdsClient(mesh.server.xdsAddress, { id, user_agent_name: 'raw' }));
      client.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'] });
      return client;
    };
    const first = connect('first');
    const second = connect('second');
    await first.next();
    await second.next();
    const third = connect('third');
    const status = await third.status;
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(status.details, /at most 2 streams/);
    assert.equal(await mesh.server.metric('etcd_xds_refused_requests_total{reason="too-many-streams"}'), 1);
    await mesh.server.log.waitFor((l) => l.msg === 'refusing a stream: too many streams');
    first.close();
    await eventually(
      async () => (await mesh.server.admin<Clients>('/debug/clients')).body.clients.length,
      (n) => assert.equal(n, 1),
    );
    const fourth = connect('fourth');
    assert.equal((await fourth.next()).type_url, CLUSTER.typeUrl);
  });
});

describe('what clients send, in log lines', () => {
  const fixture = withApp();

  it('cuts a 1 MB type URL and node id to a line under 1 KB that says how long they were', async () => {
    const { mesh } = fixture;
    const huge = 'x'.repeat(1 << 20);
    const client = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: `n-${huge}`, user_agent_name: 'raw' }),
    );
    client.send({ type_url: `type.googleapis.com/${huge}`, resource_names: [] });
    const line = await mesh.server.log.waitFor(
      (l) => l.msg === 'request for a resource type not served here',
    );
    const text = JSON.stringify(line);
    console.log(`# the warning about a 1 MB type URL is ${text.length} characters long`);
    assert.ok(text.length < 1024, `${text.length} characters`);
    assert.match(String(line.typeUrl), /^type\.googleapis\.com\/x+… \(cut, 1048596 characters in all\)$/);
    const connected = mesh.server.log.lines.find(
      (l) => l.msg === 'xDS client connected' && String(l.node).startsWith('n-x'),
    );
    assert.ok(connected !== undefined);
    assert.ok(String(connected.node).length <= MAX_LOGGED_TEXT);
    assert.ok(String(line.typeUrl).length <= MAX_LOGGED_TEXT);
    assert.ok(JSON.stringify(connected).length < 1024);
  });

  it('logs the first of a NACK storm and then a count, while every NACK is counted and recorded', async () => {
    const { mesh } = fixture;
    const client = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'storm', user_agent_name: 'raw' }),
    );
    client.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'] });
    const response = await client.next();
    const nacksBefore = await mesh.server.metric('etcd_xds_nacks_total{type="CDS"}');
    const storm = 1_000;
    for (let i = 0; i < storm; i++) {
      client.send({
        type_url: CLUSTER.typeUrl,
        resource_names: ['app'],
        response_nonce: response.nonce,
        error_detail: { code: 3, message: `rejected ${i}: ${'y'.repeat(10_000)}` },
      });
    }
    const staleBefore = await mesh.server.metric('etcd_xds_requests_total{type="CDS",outcome="stale"}');
    await eventually(
      () => mesh.server.metric('etcd_xds_nacks_total{type="CDS"}'),
      (n) => assert.equal(n - nacksBefore, storm),
    ).catch(async (error: Error) => {
      // A push to the stream after `response` (the app's lease lost and renewed on a starved
      // machine) turns every NACK of the older nonce into a stale request: say so when it happens.
      const stale =
        (await mesh.server.metric('etcd_xds_requests_total{type="CDS",outcome="stale"}')) - staleBefore;
      const refused = await mesh.server.metric('etcd_xds_refused_requests_total{reason="too-many-held"}');
      throw new Error(
        `${error.message}\n(stale requests meanwhile: ${stale}; streams refused too-many-held: ${refused})`,
      );
    });
    const lines = mesh.server.log.lines.filter(
      (l) => l.msg.startsWith('client rejected a response') && l.node === 'storm',
    );
    console.log(`# ${storm} NACKs from one stream: ${lines.length} warning line(s)`);
    assert.equal(lines.length, 1);
    assert.ok(JSON.stringify(lines[0]).length < 1024);
    interface NackClients {
      clients: { node: { id: string }; subscriptions: { CDS: { lastNack: { message: string } } } }[];
    }
    const recorded = (await mesh.server.admin<NackClients>('/debug/clients')).body.clients.find(
      (c) => c.node.id === 'storm',
    );
    assert.match(recorded?.subscriptions.CDS.lastNack.message ?? '', /^rejected 999: y+$/);
    // When the stream ends, the count of what was not logged is.
    client.close();
    const summary = await mesh.server.log.waitFor((l) => l.node === 'storm' && l.kind === 'nack');
    assert.equal(summary.suppressed, storm - 1);
  });
});

describe('delta initial_resource_versions', () => {
  const fixture = withApp();

  it('are kept only for names the stream subscribes to', async () => {
    const { mesh } = fixture;
    const client = fixture.track(
      new RawDeltaClient(mesh.server.xdsAddress, { id: 'irv', user_agent_name: 'raw' }),
    );
    const claimed: Record<string, string> = { app: 'stale' };
    for (let i = 1; i < 100_000; i++) claimed[`svc-${i}/v1`] = '0123456789abcdef';
    client.send({
      type_url: ENDPOINT.typeUrl,
      resource_names_subscribe: ['app'],
      initial_resource_versions: claimed,
    });
    const response = await client.next();
    assert.deepEqual(
      response.resources.map((r) => r.name),
      ['app'],
    );
    const recorded = (await mesh.server.admin<Clients>('/debug/clients')).body.clients.find(
      (c) => c.node.id === 'irv',
    );
    assert.deepEqual(Object.keys(recorded?.subscriptions.EDS.lastSent?.resources ?? {}), ['app']);
  });
});
