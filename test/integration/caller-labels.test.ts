// Caller labels (contract §7) end to end: a bootstrap made by `etcd-xds bootstrap --service
// --version --label --zone`, a real grpc-js-xds client using it, and the labels as the server sees
// them in /debug/clients and CSDS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useMesh } from '../../testkit/hooks';
import { eventually } from '../../testkit/mesh';
import { fetchClientStatus } from '../../testkit/raw-ads-client';
import { runCli } from '../../testkit/run-cli';
import { XdsClientProcess } from '../../testkit/xds-client-process';

describe('caller labels', () => {
  const fixture = useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'a1', version: 'v1' });
  });

  it('a client bootstrapped with --service/--version/--label/--zone shows them in /debug/clients and CSDS', async () => {
    const { mesh } = fixture;
    const made = await runCli([
      'bootstrap',
      '--server',
      mesh.server.xdsAddress,
      '--node-id',
      'labelled',
      '--service',
      'app',
      '--version',
      'v2',
      '--label',
      'team=payments',
      '--zone',
      'z1',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const client = fixture.track(await XdsClientProcess.start('grpc-js', JSON.parse(made.stdout) as object));
    const [result] = await client.call('xds:///app');
    assert.ok(result.ok, JSON.stringify(result));

    interface Clients {
      clients: { node: { id: string }; callerLabels: Record<string, string> | null }[];
    }
    const { value } = await eventually(
      async () => (await mesh.server.admin<Clients>('/debug/clients?node=labelled')).body.clients,
      (clients) => assert.ok(clients.length > 0),
    );
    for (const entry of value) {
      assert.deepEqual(entry.callerLabels, { service: 'app', team: 'payments', version: 'v2', zone: 'z1' });
    }

    const csds = await fetchClientStatus(mesh.server.xdsAddress, {
      node_matchers: [{ node_id: { exact: 'labelled' } }],
    });
    assert.equal(csds.config.length, 1);
    const node = csds.config[0].node!;
    const metadata = Object.fromEntries(
      Object.entries(node.metadata?.fields ?? {}).map(([key, value]) => [key, value.stringValue]),
    );
    assert.deepEqual(metadata, { service: 'app', version: 'v2', team: 'payments' });
    assert.equal(node.locality?.zone, 'z1');
  });
});
