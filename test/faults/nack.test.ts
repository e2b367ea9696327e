// A client that rejects everything: it keeps its last good config, the server never resends a
// rejected version, backs off instead of pushing every change, and reports the NACK everywhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER } from '../../src/proto/xds-types';
import { useMesh } from '../../testkit/hooks';
import { eventually } from '../../testkit/mesh';
import { fetchClientStatus, RawAdsClient } from '../../testkit/raw-ads-client';

describe('a client that NACKs', () => {
  const fixture = useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'a1', version: 'v1' });
  });

  it('is backed off, never sent a rejected version again, and shows in /debug/clients, CSDS and metrics', async () => {
    const { mesh } = fixture;
    const client = fixture.track(
      new RawAdsClient(mesh.server.xdsAddress, { id: 'refuser', user_agent_name: 'raw' }),
    );
    const received: { at: number; version: string }[] = [];
    let nacks = 0;
    let refusing = true;
    const started = performance.now();
    // Answer every CDS response: NACK while refusing, ACK after.
    const answering = (async () => {
      client.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'] });
      for (;;) {
        const response = await client.next(15_000).catch(() => undefined);
        if (response === undefined) return;
        received.push({ at: performance.now() - started, version: response.version_info });
        if (refusing) {
          nacks++;
          client.send({
            type_url: CLUSTER.typeUrl,
            resource_names: ['app'],
            response_nonce: response.nonce,
            error_detail: { code: 3, message: `cluster app: refused (${nacks})` },
          });
        } else {
          client.send({
            type_url: CLUSTER.typeUrl,
            resource_names: ['app'],
            response_nonce: response.nonce,
            version_info: response.version_info,
          });
        }
      }
    })();
    await eventually(
      () => received.length,
      (n) => assert.equal(n, 1),
    );

    // Twelve cluster changes, 150 ms apart.
    const changes = 12;
    for (let i = 0; i < changes; i++) {
      await mesh.putPolicy(
        'app',
        i % 2 === 0 ? { lbPolicy: 'ring_hash', hashHeader: 'x-user' } : { lbPolicy: 'round_robin' },
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const whileRefusing = received.length - 1;
    console.log(
      `# ${changes} cluster changes while the client refused: ${whileRefusing} pushes at ${received
        .slice(1)
        .map((r) => `${r.at.toFixed(0)}`)
        .join(', ')} ms`,
    );
    assert.ok(whileRefusing < changes / 2, `backed off: ${whileRefusing} pushes for ${changes} changes`);
    for (let i = 1; i < received.length; i++) {
      assert.notEqual(received[i].version, received[i - 1].version, 'a rejected version was sent again');
    }

    interface Clients {
      clients: { node: { id: string }; subscriptions: { CDS: { lastNack: { message: string } | null } } }[];
    }
    const debug = (await mesh.server.admin<Clients>('/debug/clients')).body.clients.find(
      (c) => c.node.id === 'refuser',
    );
    assert.match(debug?.subscriptions.CDS.lastNack?.message ?? '', /cluster app: refused/);
    const csds = await fetchClientStatus(mesh.server.xdsAddress, {
      node_matchers: [{ node_id: { exact: 'refuser' } }],
    });
    const config = csds.config[0].generic_xds_configs[0];
    assert.deepEqual([config.config_status, config.client_status], ['ERROR', 'NACKED']);
    const metrics = (await mesh.server.admin<string>('/metrics')).body;
    assert.match(metrics, new RegExp(`^etcd_xds_nacks_total\\{type="CDS"\\} ${nacks}$`, 'm'));

    // The client accepts again: the next change reaches it when the backoff runs out, it ACKs,
    // and from then on changes flow at once.
    refusing = false;
    const before = received.length;
    await mesh.putPolicy('app', { lbPolicy: 'ring_hash', hashHeader: 'x-other' });
    await eventually(
      () => received.length,
      (n) => assert.ok(n > before),
      { timeoutMs: 35_000 },
    );
    const lastPolicyAt = performance.now();
    // Clusters go from RING_HASH back to ROUND_ROBIN (gRPC clients get least_request as round robin).
    await mesh.putPolicy('app', { lbPolicy: 'least_request' });
    await eventually(
      () => received.length,
      (n) => assert.ok(n > before + 1),
    );
    const promptMs = performance.now() - lastPolicyAt;
    console.log(`# after the client ACKed again, the next change reached it in ${promptMs.toFixed(0)} ms`);
    assert.ok(promptMs < 1_000);
    client.close();
    await answering;
  });
});
