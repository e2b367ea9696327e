// Caller-aware routing (contract §7) through every client stack: real etcd, the real server, real
// backends, and clients whose caller labels come from `etcd-xds bootstrap` (grpc-js-xds, Debian's
// C-core, PyPI grpcio, grpc-go, grpc-java, Envoy over SotW and delta). The rule under test is the
// original one: "app v2 may only call user v3", from one etcd key and no application code. Every
// expectation is also asked of /debug/explain, which must agree with where the calls went.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Explanation } from '../../src/admin/explain';
import { assertAnsweredBy, assertShares } from '../../testkit/call-results';
import { EnvoyRoutingClient } from '../../testkit/envoy-client';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { runCli } from '../../testkit/run-cli';
import {
  clientAvailable,
  XdsClientProcess,
  type CallOptions,
  type CallResult,
  type ClientLanguage,
} from '../../testkit/xds-client-process';
import type { RoutingClient } from './routing-scenarios';

const LANGUAGES: ClientLanguage[] = ['grpc-js', 'python', 'grpcio-pypi', 'grpc-go', 'grpc-java'];
const STACKS = [...LANGUAGES, 'envoy', 'envoy-delta'] as const;
type Stack = (typeof STACKS)[number];

const PIN = { routes: [{ match: { caller: { service: 'app', version: 'v2' } }, version: 'v3' }] };
const SPLIT = { routes: [{ match: { caller: { service: 'app' } }, weights: { v1: 1, v3: 3 } }] };

interface Role {
  readonly name: string;
  /** `etcd-xds bootstrap` flags giving the caller labels. */
  readonly flags: readonly string[];
  readonly labels: Record<string, string>;
}
const APP_V2: Role = {
  name: 'app-v2',
  flags: ['--service', 'app', '--version', 'v2'],
  labels: { service: 'app', version: 'v2' },
};
const APP_V1: Role = {
  name: 'app-v1',
  flags: ['--service', 'app', '--version', 'v1'],
  labels: { service: 'app', version: 'v1' },
};
const PLAIN: Role = { name: 'no-labels', flags: [], labels: {} };

interface ClientsView {
  clients: {
    stream: number;
    connectedAt: string;
    node: { id: string } | null;
    callerLabels: Record<string, string> | null;
  }[];
}

describe('caller-aware routing: app v2 may only call user v3, on every client stack', () => {
  let mesh: Mesh;
  let envoyPort: number;

  before(async () => {
    const missing = LANGUAGES.filter((language) => !clientAvailable(language));
    assert.deepEqual(missing, [], `interop clients not built: run scripts/build-interop.sh`);
    envoyPort = await freePort();
    mesh = await Mesh.start(['--envoy-listener', `127.0.0.1:${envoyPort}`]);
    await mesh.addBackend({ service: 'user', id: 'u1', version: 'v1' });
    await mesh.addBackend({ service: 'user', id: 'u3', version: 'v3' });
  });

  after(async () => {
    await mesh?.stop();
  });

  /** A client of `stack` whose bootstrap `etcd-xds bootstrap` wrote with the role's labels. */
  async function startClient(stack: Stack, role: Role): Promise<RoutingClient> {
    const nodeId = `${stack}-${role.name}`;
    if (stack === 'envoy' || stack === 'envoy-delta') {
      // One Envoy at a time: they share the listener address the server gives them.
      return EnvoyRoutingClient.start(mesh.server.xdsAddress, envoyPort, {
        nodeId,
        delta: stack === 'envoy-delta',
        labels: new Map(Object.entries(role.labels)),
      });
    }
    const printed = await runCli([
      'bootstrap',
      '--server',
      mesh.server.xdsAddress,
      '--node-id',
      nodeId,
      ...role.flags,
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    return XdsClientProcess.start(stack, JSON.parse(printed.stdout) as object);
  }

  /** The endpoints /debug/explain says a call goes to (ids of clusters with a share), or null when it fails. */
  async function explained(role: Role, headers: Record<string, string>): Promise<Explanation> {
    const query = new URLSearchParams({ service: 'user' });
    for (const [label, value] of Object.entries(role.labels)) query.append('caller', `${label}:${value}`);
    for (const [name, value] of Object.entries(headers)) query.append('header', `${name}:${value}`);
    const { status, body } = await mesh.server.admin<Explanation>(`/debug/explain?${query.toString()}`);
    assert.equal(status, 200, JSON.stringify(body));
    return body;
  }

  const explainedIds = (answer: Explanation): string[] =>
    answer.clusters
      .filter((cluster) => cluster.weight > 0)
      .flatMap((cluster) => cluster.endpoints.map((endpoint) => endpoint.id ?? endpoint.address))
      .sort();

  /** Calls until they go only to `ids`; then explain must name exactly those instances. */
  async function expectOnly(
    client: RoutingClient,
    role: Role,
    call: CallOptions,
    ids: string[],
  ): Promise<void> {
    await waitFor(client, call, (results) => assertAnsweredBy(results, ids));
    const answer = await explained(role, call.metadata ?? {});
    assert.equal(answer.outcome, 'routed');
    assert.deepEqual(explainedIds(answer), [...ids].sort(), `explain disagrees: ${JSON.stringify(answer)}`);
  }

  async function waitFor(
    client: RoutingClient,
    call: CallOptions,
    check: (results: CallResult[]) => void,
  ): Promise<void> {
    try {
      await eventually(() => client.call('xds:///user', call), check, {
        timeoutMs: client.language === 'python' ? 30_000 : 15_000,
      });
    } catch (error) {
      throw new Error(
        `${client.language} ${client.version}: ${(error as Error).message}\n${client.log.slice(-2000)}`,
      );
    }
  }

  async function streamsOf(nodeId: string): Promise<string[]> {
    const { body } = await mesh.server.admin<ClientsView>(
      `/debug/clients?node=${encodeURIComponent(nodeId)}`,
    );
    return body.clients.map((c) => `${c.stream}@${c.connectedAt}`).sort();
  }

  for (const stack of STACKS) {
    it(`${stack}: app v2 is pinned to v3 whatever its headers, split by a caller weights route, and unpinned live`, async () => {
      await mesh.putPolicy('user', PIN);
      const client = await startClient(stack, APP_V2);
      try {
        console.log(`# ${stack}: ${client.language} ${client.version}`);
        await expectOnly(client, APP_V2, { metadata: { version: 'v1' }, count: 8 }, ['u3']);
        await expectOnly(client, APP_V2, { count: 8 }, ['u3']);

        await mesh.putPolicy('user', SPLIT);
        await waitFor(client, { count: 200 }, (results) =>
          assertShares(results, { u1: 0.25, u3: 0.75 }, 0.1),
        );
        const split = await explained(APP_V2, {});
        assert.deepEqual(
          split.clusters.map((cluster) => [cluster.name, cluster.weight, cluster.endpoints.map((e) => e.id)]),
          [
            ['user/v1', 25, ['u1']],
            ['user/v3', 75, ['u3']],
          ],
        );

        await mesh.putPolicy('user', PIN);
        await expectOnly(client, APP_V2, { metadata: { version: 'v1' }, count: 8 }, ['u3']);
        const streams = await streamsOf(`${stack}-${APP_V2.name}`);
        assert.ok(streams.length > 0, 'the client has no stream in /debug/clients');
        const { body } = await mesh.server.admin<ClientsView>(`/debug/clients?node=${stack}-${APP_V2.name}`);
        assert.deepEqual(body.clients[0].callerLabels, APP_V2.labels);

        // Deleting the policy returns the client to version routing (§4) on the same stream.
        await mesh.deletePolicy('user');
        await expectOnly(client, APP_V2, { metadata: { version: 'v1' }, count: 8 }, ['u1']);
        await expectOnly(client, APP_V2, { count: 12 }, ['u1', 'u3']);
        assert.deepEqual(await streamsOf(`${stack}-${APP_V2.name}`), streams, 'the client reconnected');
      } finally {
        await client.stop();
      }
    });

    it(`${stack}: app v1 and a client without labels keep version routing under the pin`, async () => {
      await mesh.putPolicy('user', PIN);
      for (const role of [APP_V1, PLAIN]) {
        const client = await startClient(stack, role);
        try {
          await expectOnly(client, role, { metadata: { version: 'v1' }, count: 8 }, ['u1']);
          await expectOnly(client, role, { metadata: { version: 'v3' }, count: 8 }, ['u3']);
          await expectOnly(client, role, { count: 12 }, ['u1', 'u3']);
        } finally {
          await client.stop();
        }
      }
    });
  }

  it('etcd-xds explain prints the answer and exits 0 when routed, 3 when the call would fail, 2 on bad input', async () => {
    await mesh.putPolicy('user', PIN);
    const admin = ['--admin', mesh.server.adminUrl];
    const pinned = await runCli([
      'explain',
      'user',
      '--caller',
      'service=app',
      '--caller',
      'version=v2',
      '-H',
      'version:v1',
      ...admin,
    ]);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.match(pinned.stdout, /route: policy-0 \(#0 of the routes this client gets\)/);
    assert.match(pinned.stdout, /100% → cluster user\/v3/);
    assert.match(pinned.stdout, /u3 127\.0\.0\.1:\d+ \(version v3/);
    assert.doesNotMatch(pinned.stdout, /\bu1\b/);

    const json = await runCli(['explain', 'user', '-H', 'version:v1', '--json', ...admin]);
    assert.equal(json.code, 0, json.stderr);
    const answer = JSON.parse(json.stdout) as Explanation;
    assert.deepEqual(answer.route, { name: 'version-v1', index: 0 });
    assert.deepEqual(explainedIds(answer), ['u1']);

    const unknown = await runCli(['explain', 'user', '-H', 'version:v9', ...admin]);
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.match(unknown.stdout, /outcome: UNAVAILABLE — no instances of user with the requested version/);

    const missing = await runCli(['explain', 'nope', ...admin]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /404: no service "nope"/);
    const bad = await runCli(['explain', 'user', '--caller', 'no-equals', ...admin]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--caller: "no-equals" must be LABEL=VALUE/);
    const down = await runCli(['explain', 'user', '--admin', 'http://127.0.0.1:1']);
    assert.equal(down.code, 2);
    assert.match(down.stderr, /cannot reach/);
  });

  it('/debug/explain answers 400 naming a malformed parameter', async () => {
    for (const [query, message] of [
      ['', /service is required/],
      ['service=user&header=nocolon', /header must be NAME:VALUE/],
      ['service=user&caller=bad%20key:x', /caller: label key "bad key"/],
      ['service=user&method=nope', /method must be given once/],
      ['service=user&colour=red', /unknown parameter "colour"/],
    ] as const) {
      const { status, body } = await mesh.server.admin<{ error: string }>(`/debug/explain?${query}`);
      assert.equal(status, 400, query);
      assert.match(body.error, message);
    }
  });
});
