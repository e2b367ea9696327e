// Heavy admin requests against a real server with 2,000 services: concurrent /debug/config_dump
// requests share one build written in slices, beyond --max-admin-requests they are refused with
// 503, and a healthy xDS client keeps getting changes within a second meanwhile. Also the views'
// filters, and CSDS under the same cap.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ENDPOINT } from '../../src/proto/xds-types';
import { useMesh } from '../../testkit/hooks';
import { eventually, type Mesh } from '../../testkit/mesh';
import { fetchClientStatus, RawAdsClient, RawDeltaClient } from '../../testkit/raw-ads-client';

const SERVICES = 2_000;
const INSTANCES = 5;

function instanceValue(service: number, instance: number, weight = 1): string {
  return JSON.stringify({
    name: `svc-${service}`,
    id: `i-${instance}`,
    version: `v${instance % 2}`,
    address: `10.${service >> 8}.${service & 255}.${instance + 1}:8080`,
    weight,
  });
}

async function seed(mesh: Mesh): Promise<void> {
  const entries: [string, string][] = [];
  for (let s = 0; s < SERVICES; s++)
    for (let i = 0; i < INSTANCES; i++) entries.push([`/services/svc-${s}/i-${i}`, instanceValue(s, i)]);
  await mesh.putAll(entries);
  await eventually(
    async () => (await mesh.server.admin<{ ready: boolean }>('/readyz')).body.ready,
    (ready) => assert.ok(ready),
  );
  await eventually(
    () => mesh.server.metric('etcd_xds_instances'),
    (n) => assert.equal(n, SERVICES * INSTANCES),
  );
}

/** GET without reading the body: the response stays open (and holds its admin turn) until aborted. */
function openUnread(url: string): Promise<{ status: number; abort: () => void }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, (response) => {
      response.pause();
      resolve({ status: response.statusCode ?? 0, abort: () => request.destroy() });
    });
    request.on('error', (error) => (error.message === 'socket hang up' ? undefined : reject(error)));
  });
}

describe('heavy admin requests at 2,000 services', () => {
  const fixture = useMesh(seed, ['--max-admin-requests', '8']);

  it('20 concurrent config dumps share one build, 503 beyond 8, and a healthy client converges within 1 s', async () => {
    const { mesh } = fixture;
    const healthy = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'healthy', user_agent_name: 'raw' }),
    );
    healthy.send({ type_url: ENDPOINT.typeUrl, resource_names: ['svc-0'] });
    await healthy.next();
    const heapBefore = await mesh.server.metric('etcd_xds_nodejs_heap_size_used_bytes');
    const buildsBefore = await mesh.server.metric('etcd_xds_admin_view_builds_total{view="config_dump"}');

    const dumps = Array.from({ length: 20 }, async () => {
      const response = await fetch(`${mesh.server.adminUrl}/debug/config_dump`);
      return {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: await response.text(),
      };
    });
    let done = false;
    const all = Promise.all(dumps).finally(() => (done = true));
    // Meanwhile: changes to svc-0, each timed to its arrival at the healthy client; and the heap.
    const convergence: number[] = [];
    let heapPeak = heapBefore;
    for (let weight = 2; !done || convergence.length < 5; weight++) {
      const written = performance.now();
      await mesh.kv.put('/services/svc-0/i-0').value(instanceValue(0, 0, weight));
      await healthy.next(5_000);
      convergence.push(performance.now() - written);
      heapPeak = Math.max(heapPeak, await mesh.server.metric('etcd_xds_nodejs_heap_size_used_bytes'));
    }
    const results = await all;
    const ok = results.filter((r) => r.status === 200);
    const busy = results.filter((r) => r.status === 503);
    const size = ok[0]?.body.length ?? 0;
    console.log(
      `# 20 concurrent dumps of ${(size / 2 ** 20).toFixed(1)} MB: ${ok.length} served, ${busy.length} refused; ` +
        `healthy client converged in ${convergence.map((ms) => ms.toFixed(0)).join(', ')} ms; ` +
        `heap +${((heapPeak - heapBefore) / 2 ** 20).toFixed(0)} MB at most`,
    );
    assert.equal(ok.length + busy.length, 20);
    assert.ok(ok.length >= 1 && ok.length <= 8, `${ok.length} served`);
    for (const refused of busy) {
      assert.equal(refused.retryAfter, '1');
      assert.match(refused.body, /8 heavy admin requests are already running/);
    }
    assert.equal(
      await mesh.server.metric('etcd_xds_admin_refused_requests_total{endpoint="config_dump"}'),
      busy.length,
    );
    const dump = JSON.parse(ok[0].body) as {
      catalog: { services: unknown[] };
      resources: Record<string, { resources: unknown[] }>;
    };
    assert.equal(dump.catalog.services.length, SERVICES);
    assert.equal(dump.resources.EDS.resources.length, SERVICES * 3);
    for (const other of ok) assert.equal(other.body, ok[0].body, 'one build, the same bytes');
    assert.equal(
      (await mesh.server.metric('etcd_xds_admin_view_builds_total{view="config_dump"}')) - buildsBefore,
      1,
    );
    assert.ok(Math.max(...convergence) <= 1_000, `converged in ${Math.max(...convergence).toFixed(0)} ms`);
    assert.ok(
      heapPeak - heapBefore < 4 * size + 64 * 2 ** 20,
      'the heap grew by a few dumps at most, not 20',
    );
  });

  it('filters config_dump by service and type, and clients by node; bad filters are 400', async () => {
    const { mesh } = fixture;
    interface Dump {
      filter: { service?: string[]; type?: string[] };
      catalog: { services: { name: string }[] };
      resources: Record<string, { resources: { name: string }[] }>;
    }
    const one = (await mesh.server.admin<Dump>('/debug/config_dump?service=svc-7')).body;
    assert.deepEqual(one.filter, { service: ['svc-7'] });
    assert.deepEqual(
      one.catalog.services.map((s) => s.name),
      ['svc-7'],
    );
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(one.resources).map(([type, r]) => [type, r.resources.map((x) => x.name)]),
      ),
      {
        CDS: ['svc-7', 'svc-7/v0', 'svc-7/v1'],
        EDS: ['svc-7', 'svc-7/v0', 'svc-7/v1'],
        LDS: ['svc-7'],
        RDS: ['svc-7'],
      },
    );
    const two = (
      await mesh.server.admin<Dump>(
        '/debug/config_dump?service=svc-9&service=svc-8,svc-none&type=eds&type=CDS',
      )
    ).body;
    assert.deepEqual(two.filter, { service: ['svc-8', 'svc-9', 'svc-none'], type: ['CDS', 'EDS'] });
    assert.deepEqual(
      two.catalog.services.map((s) => s.name),
      ['svc-8', 'svc-9'],
    );
    assert.deepEqual(Object.keys(two.resources), ['CDS', 'EDS']);
    assert.equal(two.resources.EDS.resources.length, 6);
    for (const bad of ['type=XDS', 'service=', 'flavour=nope', 'type=']) {
      const { status, body } = await mesh.server.admin<{ error: string }>(`/debug/config_dump?${bad}`);
      assert.equal(status, 400, bad);
      assert.ok(body.error.length > 0);
    }

    const client = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'filtered', user_agent_name: 'raw' }),
    );
    client.send({ type_url: ENDPOINT.typeUrl, resource_names: ['svc-1'] });
    await client.next();
    interface Clients {
      clients: { node: { id: string } }[];
    }
    const clients = (await mesh.server.admin<Clients>('/debug/clients?node=filtered')).body.clients;
    assert.deepEqual(
      clients.map((c) => c.node.id),
      ['filtered'],
    );
    assert.deepEqual((await mesh.server.admin<Clients>('/debug/clients?node=nobody')).body.clients, []);
    assert.equal((await mesh.server.admin('/debug/clients?node=')).status, 400);
  });

  it('holds every heavy view and CSDS to the same cap; a freed turn is used again', async () => {
    const { mesh } = fixture;
    const held = await Promise.all(
      Array.from({ length: 8 }, () => openUnread(`${mesh.server.adminUrl}/debug/config_dump`)),
    );
    assert.deepEqual(
      held.map((h) => h.status),
      Array(8).fill(200),
    );
    const clients = await mesh.server.admin<{ error: string }>('/debug/clients');
    assert.equal(clients.status, 503);
    const refused = await fetchClientStatus(mesh.server.xdsAddress).then(
      () => undefined,
      (error: grpc.ServiceError) => error,
    );
    assert.equal(refused?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.deepEqual(refused?.metadata.get('grpc-retry-pushback-ms'), ['1000']);
    // Light endpoints are never refused.
    assert.equal((await mesh.server.admin('/readyz')).status, 200);
    assert.equal((await mesh.server.admin('/metrics')).status, 200);
    for (const h of held) h.abort();
    await eventually(
      () =>
        fetchClientStatus(mesh.server.xdsAddress).then(
          () => 'ok',
          (error: Error) => error.message,
        ),
      (outcome) => assert.equal(outcome, 'ok'),
    );
    assert.equal((await mesh.server.admin('/debug/clients')).status, 200);
  });

  it('streams /debug/clients with a 99,999-name delta subscription while a healthy client converges', async () => {
    const { mesh } = fixture;
    const big = fixture.track(
      new RawDeltaClient(mesh.server.xdsAddress, { id: 'big', user_agent_name: 'raw' }),
    );
    const names = Array.from({ length: 99_999 }, (_, i) => `missing-${i}`);
    big.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: names });
    await big.next();
    const healthy = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'healthy-2', user_agent_name: 'raw' }),
    );
    healthy.send({ type_url: ENDPOINT.typeUrl, resource_names: ['svc-1'] });
    await healthy.next();
    interface Clients {
      clients: { node: { id: string }; subscriptions: Record<string, { names: string[] }> }[];
    }
    const views = Array.from({ length: 5 }, () =>
      fetch(`${mesh.server.adminUrl}/debug/clients`).then(async (r) => (await r.json()) as Clients),
    );
    const written = performance.now();
    await mesh.kv.put('/services/svc-1/i-0').value(instanceValue(1, 0, 7));
    await healthy.next();
    const convergedMs = performance.now() - written;
    const bodies = await Promise.all(views);
    console.log(
      `# /debug/clients ×5 with a 99,999-name subscription: a healthy client converged in ${convergedMs.toFixed(0)} ms`,
    );
    for (const body of bodies) {
      const entry = body.clients.find((c) => c.node.id === 'big');
      assert.deepEqual(entry?.subscriptions.EDS.names, names);
    }
    assert.ok(convergedMs <= 1_000, `${convergedMs.toFixed(0)} ms`);
  });
});
