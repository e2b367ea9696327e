// A client that keeps its connection alive but stops reading its stream: the server writes it
// nothing more once its flow-control window is full, keeps only the latest state (one response
// per type) while it is stuck, sends that when it reads again, and ends it after --stall-timeout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { DiscoveryResponse__Output } from '../../src/generated/envoy/service/discovery/v3/DiscoveryResponse';
import { CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE } from '../../src/proto/xds-types';
import { useMesh } from '../../testkit/hooks';
import { eventually, type Mesh } from '../../testkit/mesh';
import { RawAdsClient } from '../../testkit/raw-ads-client';

/** Instances of `big`, so that each EDS response is ~15 KB and a few fill a client's window. */
const INSTANCES = 300;

function instanceValue(i: number, generation: number, version = 'v1'): string {
  // The weight changes with `generation`: every write changes the endpoints.
  const weight = i === 0 ? generation + 1 : 1;
  return JSON.stringify({
    name: 'big',
    id: `i-${i}`,
    version,
    address: `10.1.${i >> 8}.${i & 255}:8080`,
    weight,
  });
}

function seed(mesh: Mesh): Promise<void> {
  return mesh.putAll(
    Array.from({ length: INSTANCES }, (_, i) => [`/services/big/i-${i}`, instanceValue(i, 0)] as const),
  );
}

/** Changes instance 0's weight; resolves once the server has translated the write. */
async function change(mesh: Mesh, generation: number): Promise<void> {
  const { header } = await mesh.kv.put('/services/big/i-0').value(instanceValue(0, generation));
  const revision = Number(header.revision);
  await eventually(
    () => mesh.server.metric('etcd_xds_catalog_revision'),
    (served) => assert.ok(served >= revision),
    { intervalMs: 10 },
  );
}

const pushed = async (mesh: Mesh): Promise<Record<string, number>> =>
  Object.fromEntries(
    await Promise.all(
      PUSH_ORDER.map(async (type) => [
        type.short,
        await mesh.server.metric(`etcd_xds_pushes_total{type="${type.short}"}`),
      ]),
    ),
  ) as Record<string, number>;

/** Subscribes to all four types for `big`, as a gRPC client would, and reads the four answers. */
async function subscribe(client: RawAdsClient): Promise<void> {
  for (const type of [LISTENER, ROUTE, CLUSTER, ENDPOINT]) {
    client.send({ type_url: type.typeUrl, resource_names: ['big'] });
    await client.next();
  }
}

/** Writes changes until the server holds a push back from `client`'s stream (its window is full). */
async function fillWindow(mesh: Mesh, from: number): Promise<number> {
  let generation = from;
  const held = (): Promise<number> => mesh.server.metric('etcd_xds_held_pushes_total{reason="not-reading"}');
  while ((await held()) === 0) {
    assert.ok(generation < from + 200, 'the server never held a push back');
    await change(mesh, ++generation);
  }
  return generation;
}

describe('a client that stops reading its stream', () => {
  const fixture = useMesh(seed);

  it('is written nothing more, and when it reads again gets only the latest state, one response per type', async () => {
    const { mesh } = fixture;
    const client = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'stuck', user_agent_name: 'raw' }),
    );
    const start = await pushed(mesh);
    await subscribe(client);
    client.pause();
    let generation = await fillWindow(mesh, 0);
    const stalled = await pushed(mesh);
    console.log(
      `# the window was full after ${generation} changes (${stalled.EDS - start.EDS} EDS responses)`,
    );

    // While stuck: 30 endpoint changes, a cluster change (ring hash) and a new version (routes).
    for (let i = 0; i < 30; i++) await change(mesh, ++generation);
    await mesh.putPolicy('big', { lbPolicy: 'ring_hash', hashHeader: 'x-user' });
    const { header } = await mesh.kv.put('/services/big/i-new').value(instanceValue(INSTANCES, 0, 'v9'));
    await eventually(
      () => mesh.server.metric('etcd_xds_catalog_revision'),
      (served) => assert.ok(served >= Number(header.revision)),
    );
    assert.deepEqual(await pushed(mesh), stalled, 'nothing is written to a stream that is not read');
    assert.equal(await mesh.server.metric('etcd_xds_stalled_streams'), 1);
    interface Clients {
      clients: { node: { id: string }; writes: { unflushed: number; heldPushes: number } }[];
    }
    const stuck = (await mesh.server.admin<Clients>('/debug/clients')).body.clients.find(
      (c) => c.node.id === 'stuck',
    );
    assert.ok(
      stuck !== undefined && stuck.writes.unflushed > 0 && stuck.writes.heldPushes >= 30,
      JSON.stringify(stuck?.writes),
    );

    // It reads again: what was already on its way, then one response per changed type.
    const received: DiscoveryResponse__Output[] = [];
    client.resume();
    await eventually(
      async () => {
        for (;;) {
          const response = await client.next(500).catch(() => undefined);
          if (response === undefined) break;
          received.push(response);
        }
        const now = await pushed(mesh);
        return PUSH_ORDER.reduce((sum, t) => sum + now[t.short] - start[t.short], 0);
      },
      (written) =>
        assert.equal(
          received.length + 4 /* read by subscribe() */,
          written,
          'every response written is read',
        ),
      { timeoutMs: 20_000, intervalMs: 0 },
    );
    const after = await pushed(mesh);
    assert.deepEqual(
      Object.fromEntries(PUSH_ORDER.map((t) => [t.short, after[t.short] - stalled[t.short]])),
      { CDS: 1, EDS: 1, LDS: 0, RDS: 1 },
      'after reading again, one response for each type that changed',
    );
    interface Dump {
      resources: Record<string, { versionInfo: string; resources: { name: string; version: string }[] }>;
    }
    const dump = (await mesh.server.admin<Dump>('/debug/config_dump')).body;
    for (const type of [CLUSTER, ENDPOINT, ROUTE]) {
      const last = received.filter((r) => r.type_url === type.typeUrl).at(-1);
      assert.equal(
        last?.version_info,
        dump.resources[type.short].versionInfo,
        `${type.short}: the latest state`,
      );
    }
    assert.equal(await mesh.server.metric('etcd_xds_stalled_streams'), 0);
    // And it is a normal stream again: the next change comes at once.
    await change(mesh, ++generation);
    const next = await client.next();
    assert.equal(next.type_url, ENDPOINT.typeUrl);
    client.close();
  });
});

describe('a client that stays stuck past --stall-timeout', () => {
  const fixture = useMesh(seed, ['--stall-timeout', '1s']);

  it('is ended with RESOURCE_EXHAUSTED, a warning and a metric; other clients carry on', async () => {
    const { mesh } = fixture;
    const stuck = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'stuck', user_agent_name: 'raw' }),
    );
    const healthy = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'healthy', user_agent_name: 'raw' }),
    );
    await subscribe(stuck);
    healthy.send({ type_url: ENDPOINT.typeUrl, resource_names: ['big'] });
    await healthy.next();
    stuck.pause();
    const generation = await fillWindow(mesh, 0);
    const warning = await mesh.server.log.waitFor(
      (line) => line.msg === 'ending a stream that broke a limit' && line.reason === 'stalled',
    );
    assert.equal(warning.node, 'stuck');
    assert.match(String(warning.details), /read none of its responses for 1s/);
    assert.equal(await mesh.server.metric('etcd_xds_refused_requests_total{reason="stalled"}'), 1);
    interface Clients {
      clients: { node: { id: string } }[];
    }
    const ids = (await mesh.server.admin<Clients>('/debug/clients')).body.clients.map((c) => c.node.id);
    assert.deepEqual(ids, ['healthy']);
    // The healthy client got every change, and still does.
    while (!(await healthy.silentFor(300))) await healthy.next();
    await change(mesh, generation + 1);
    assert.equal((await healthy.next()).type_url, ENDPOINT.typeUrl);
    // When the stuck client reads again, it learns why its stream ended.
    stuck.resume();
    const status = await stuck.status;
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(status.details, /read none of its responses/);
  });
});
