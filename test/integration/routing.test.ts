// Version routing end to end through every client stack at once: real etcd, the real server,
// real backends, and grpc-js-xds, Debian's python3-grpcio (C-core 1.51), the latest grpcio from
// PyPI, grpc-go, grpc-java and Envoy (state of the world) running the same scenario table.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EnvoyRoutingClient } from '../../testkit/envoy-client';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { clientAvailable, XdsClientProcess, type ClientLanguage } from '../../testkit/xds-client-process';
import {
  addRoutingBackends,
  defineRoutingTable,
  ringHashCapable,
  type RoutingClient,
} from './routing-scenarios';

const LANGUAGES: ClientLanguage[] = ['grpc-js', 'python', 'grpcio-pypi', 'grpc-go', 'grpc-java'];

describe('version routing through etcd-xds, same table for every client stack', () => {
  let mesh: Mesh;
  const clients = new Map<string, RoutingClient>();

  before(async () => {
    const missing = LANGUAGES.filter((language) => !clientAvailable(language));
    assert.deepEqual(missing, [], `interop clients not built: run scripts/build-interop.sh`);
    const envoyPort = await freePort();
    mesh = await Mesh.start(['--envoy-listener', `127.0.0.1:${envoyPort}`]);
    await addRoutingBackends(mesh);
    await Promise.all(
      LANGUAGES.map(async (language) => {
        clients.set(language, await XdsClientProcess.start(language, mesh.bootstrap(`${language}-client`)));
      }),
    );
    clients.set(
      'envoy',
      await EnvoyRoutingClient.start(mesh.server.xdsAddress, envoyPort, { nodeId: 'envoy-sotw' }),
    );
    console.log(`# clients: ${[...clients.values()].map((c) => `${c.language} ${c.version}`).join(', ')}`);
  });

  after(async () => {
    for (const client of clients.values()) await client.stop();
    await mesh?.stop();
  });

  defineRoutingTable(
    () => mesh,
    () => clients.values(),
  );

  it('no client rejected anything (no NACK in /debug/clients)', async () => {
    interface Clients {
      clients: {
        node: { id: string } | null;
        subscriptions: Record<string, { lastNack: { message: string } | null }>;
      }[];
    }
    const { body } = await mesh.server.admin<Clients>('/debug/clients');
    const nacks = body.clients.flatMap((c) =>
      Object.entries(c.subscriptions)
        .filter(([, s]) => s.lastNack !== null)
        .map(([type, s]) => `${c.node?.id} ${type}: ${s.lastNack!.message}`),
    );
    assert.deepEqual(nacks, []);
  });

  it('builds the grpc-no-ring-hash flavour only while a client that needs it is connected', async (t) => {
    const python = clients.get('python')!;
    if (ringHashCapable(python)) {
      t.skip(`python grpcio ${python.version} handles ring_hash; no degraded flavour to observe`);
      return;
    }
    interface Dump {
      flavoursInUse: string[];
    }
    const inUse = async (): Promise<string[]> =>
      (await mesh.server.admin<Dump>('/debug/config_dump')).body.flavoursInUse;
    // PyPI's grpcio is C-core too: it keeps grpc-c-core in use; grpc-go and grpc-java (1.85) are
    // served grpc-least-request.
    assert.deepEqual((await inUse()).sort(), [
      'envoy',
      'grpc',
      'grpc-c-core',
      'grpc-least-request',
      'grpc-no-ring-hash',
    ]);
    await python.stop();
    clients.delete('python');
    await eventually(inUse, (flavours) =>
      assert.deepEqual(flavours.sort(), ['envoy', 'grpc', 'grpc-c-core', 'grpc-least-request']),
    );
  });
});
