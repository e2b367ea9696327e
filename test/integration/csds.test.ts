// CSDS on the xDS port: per client and resource, what was sent, ACKed and NACKed, agreeing with
// /debug/clients.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClientConfig__Output } from '../../src/generated/envoy/service/status/v3/ClientConfig';
import { CLUSTER, ENDPOINT, ROUTE } from '../../src/proto/xds-types';
import { eventually, Mesh } from '../../testkit/mesh';
import {
  fetchClientStatus,
  RawAdsClient,
  RawDeltaClient,
  resourceNames,
  subscribeAndAck,
} from '../../testkit/raw-ads-client';

type Status = [string, string, string, string];

/** [type, name, config_status, client_status] of every resource a node's config lists. */
function statuses(config: ClientConfig__Output | undefined): Status[] {
  return (config?.generic_xds_configs ?? []).map((c) => [
    c.type_url.split('.').pop()!,
    c.name,
    c.config_status,
    c.client_status,
  ]);
}

describe('CSDS', () => {
  let mesh: Mesh;
  const closers: (() => void)[] = [];

  before(async () => {
    mesh = await Mesh.start();
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    const acker = new RawAdsClient(mesh.server.xdsAddress, { id: 'acker', user_agent_name: 'raw' });
    const nacker = new RawAdsClient(mesh.server.xdsAddress, { id: 'nacker', user_agent_name: 'raw' });
    const delta = new RawDeltaClient(mesh.server.xdsAddress, { id: 'delta', user_agent_name: 'raw' });
    closers.push(
      () => acker.close(),
      () => nacker.close(),
      () => delta.close(),
    );
    await subscribeAndAck(acker, CLUSTER, ['app', 'app/v1', 'missing']);
    nacker.send({ type_url: CLUSTER.typeUrl, resource_names: ['app'] });
    const rejected = await nacker.next();
    nacker.send({
      type_url: CLUSTER.typeUrl,
      resource_names: ['app'],
      response_nonce: rejected.nonce,
      error_detail: { code: 3, message: 'cluster app: unsupported' },
    });
    // As a gRPC client does: RDS, CDS and EDS on one stream, each asking for the same name.
    const grpcLike = new RawAdsClient(mesh.server.xdsAddress, { id: 'grpc-like', user_agent_name: 'raw' });
    closers.push(() => grpcLike.close());
    for (const type of [ROUTE, CLUSTER, ENDPOINT]) await subscribeAndAck(grpcLike, type, ['app']);
    delta.send({ type_url: ENDPOINT.typeUrl, resource_names_subscribe: ['app/v1'] });
    const eds = await delta.next();
    delta.send({ type_url: ENDPOINT.typeUrl, response_nonce: eds.nonce });
  });

  after(async () => {
    for (const close of closers) close();
    await mesh?.stop();
  });

  const configOf = (
    response: { config: ClientConfig__Output[] },
    id: string,
  ): ClientConfig__Output | undefined => response.config.find((c) => c.node?.id === id);

  it('reports ACKed, NACKed (with the error), and not-existing resources per client', async () => {
    const { value: response } = await eventually(
      () => fetchClientStatus(mesh.server.xdsAddress),
      (r) => {
        assert.deepEqual(statuses(configOf(r, 'delta')), [
          ['ClusterLoadAssignment', 'app/v1', 'SYNCED', 'ACKED'],
        ]);
        assert.equal(statuses(configOf(r, 'nacker'))[0]?.[2], 'ERROR');
      },
    );
    assert.deepEqual(statuses(configOf(response, 'acker')), [
      ['Cluster', 'app', 'SYNCED', 'ACKED'],
      ['Cluster', 'app/v1', 'SYNCED', 'ACKED'],
      ['Cluster', 'missing', 'NOT_SENT', 'DOES_NOT_EXIST'],
    ]);
    const nacked = configOf(response, 'nacker')!.generic_xds_configs[0];
    assert.deepEqual([nacked.config_status, nacked.client_status], ['ERROR', 'NACKED']);
    assert.equal(nacked.error_state?.details, 'cluster app: unsupported');
    assert.match(nacked.error_state?.version_info ?? '', /^[0-9a-f]{16}$/);
    const acked = configOf(response, 'acker')!.generic_xds_configs[0];
    assert.deepEqual(
      resourceNames({ resources: [acked.xds_config!] }),
      ['app'],
      'the resource itself is included',
    );
    assert.ok(acked.last_updated !== null);
  });

  it('agrees with /debug/clients on every version sent', async () => {
    interface Clients {
      clients: {
        node: { id: string };
        subscriptions: Record<string, { lastSent: { resources: Record<string, string> } | null }>;
      }[];
    }
    const [csds, debug] = await Promise.all([
      fetchClientStatus(mesh.server.xdsAddress),
      mesh.server.admin<Clients>('/debug/clients'),
    ]);
    for (const client of debug.body.clients) {
      const fromDebug = Object.entries(client.subscriptions).flatMap(([, s]) =>
        Object.entries(s.lastSent?.resources ?? {}),
      );
      const fromCsds = configOf(csds, client.node.id)!
        .generic_xds_configs.filter((c) => c.version_info !== '')
        .map((c) => [c.name, c.version_info]);
      assert.deepEqual(fromCsds.sort(), fromDebug.sort(), client.node.id);
    }
  });

  it("reports each type's own version when a client asks several types for one name", async () => {
    interface Dump {
      resources: Record<string, { resources: { name: string; version: string }[] }>;
    }
    const [csds, dump] = await Promise.all([
      fetchClientStatus(mesh.server.xdsAddress),
      mesh.server.admin<Dump>('/debug/config_dump'),
    ]);
    const fromCsds = configOf(csds, 'grpc-like')!
      .generic_xds_configs.map((c) => [c.type_url.split('.').pop(), c.name, c.version_info])
      .sort();
    const expected = [
      ['ClusterLoadAssignment', ENDPOINT],
      ['Cluster', CLUSTER],
      ['RouteConfiguration', ROUTE],
    ].map(([message, type]) => {
      const { short } = type as typeof ROUTE;
      const resource = dump.body.resources[short].resources.find((r) => r.name === 'app')!;
      return [message, 'app', resource.version];
    });
    assert.deepEqual(fromCsds, expected.sort());
  });

  it('filters by node id and leaves resource contents out when asked', async () => {
    const exact = await fetchClientStatus(mesh.server.xdsAddress, {
      node_matchers: [{ node_id: { exact: 'acker' } }],
    });
    assert.deepEqual(
      exact.config.map((c) => c.node?.id),
      ['acker'],
    );
    const prefixed = await fetchClientStatus(mesh.server.xdsAddress, {
      node_matchers: [{ node_id: { prefix: 'NA', ignore_case: true } }],
      exclude_resource_contents: true,
    });
    assert.deepEqual(
      prefixed.config.map((c) => c.node?.id),
      ['nacker'],
    );
    assert.equal(prefixed.config[0].generic_xds_configs[0].xds_config, null);
    await assert.rejects(
      fetchClientStatus(mesh.server.xdsAddress, {
        node_matchers: [{ node_metadatas: [{ path: [{ key: 'x' }] }] }],
      }),
      /INVALID_ARGUMENT.*node_metadatas matchers are not supported/,
    );
  });
});
