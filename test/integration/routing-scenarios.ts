// The routing scenario table every client stack runs (contract §4), and the backends it needs.
// Each client — grpc-js, C-core (Debian and PyPI), grpc-go, grpc-java, Envoy — must give the same
// answers; where a client cannot do something (ring hash in C-core 1.50/1.51) the row says what
// it gets instead.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Explanation } from '../../src/admin/explain';
import { answeredBy, assertAllFailed, assertAnsweredBy, assertShares } from '../../testkit/call-results';
import { eventually, type Mesh } from '../../testkit/mesh';
import type { CallOptions, CallResult } from '../../testkit/xds-client-process';

const UNAVAILABLE = 14;

/** Anything that can make calls as a client of etcd-xds would: a proxyless gRPC client or Envoy. */
export interface RoutingClient {
  readonly language: string;
  readonly version: string;
  readonly log: string;
  call(target: string, options?: CallOptions): Promise<CallResult[]>;
  stop(): Promise<void>;
}

export interface Scenario {
  readonly name: string;
  /** Policy for service `app` to set first: an object sets it, null deletes it, undefined leaves it. */
  readonly policy?: object | null;
  readonly target?: string;
  readonly call: CallOptions;
  readonly expect: (results: CallResult[], client: RoutingClient) => void;
  /** The calls reach only some of the instances explain names (ring hash sticks to one). */
  readonly explainsMore?: true;
}

/** gRPC 1.50/1.51 C-core crash on ring_hash (grpc/grpc#31766); etcd-xds serves them round robin. */
export const ringHashCapable = (client: RoutingClient): boolean =>
  !(client.language === 'python' && /^1\.5[01]\./.test(client.version));

/** The backends the table expects: app v1 (a1, a2) and v2 (b1); `zoned` with weights across zones. */
export async function addRoutingBackends(mesh: Mesh): Promise<void> {
  await mesh.addBackend({ id: 'a1', version: 'v1' });
  await mesh.addBackend({ id: 'a2', version: 'v1' });
  await mesh.addBackend({ id: 'b1', version: 'v2' });
  await mesh.addBackend({ service: 'zoned', id: 'w-heavy', version: 'v1', zone: 'z1', weight: 2 });
  await mesh.addBackend({ service: 'zoned', id: 'w-1a', version: 'v1', zone: 'z2' });
  await mesh.addBackend({ service: 'zoned', id: 'w-1b', version: 'v1', zone: 'z2' });
}

// v1: a1, a2; v2: b1.
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'version v1 goes only to the v1 instances',
    call: { metadata: { version: 'v1' }, count: 12 },
    expect: (r) => assertAnsweredBy(r, ['a1', 'a2']),
  },
  {
    name: 'version v2 goes only to the v2 instance',
    call: { metadata: { version: 'v2' }, count: 12 },
    expect: (r) => assertAnsweredBy(r, ['b1']),
  },
  {
    name: 'a version with no instances fails with UNAVAILABLE',
    call: { metadata: { version: 'v9' }, count: 4 },
    expect: (r) => assertAllFailed(r, UNAVAILABLE),
  },
  {
    name: 'no version header reaches every instance',
    call: { count: 15 },
    expect: (r) => assertAnsweredBy(r, ['a1', 'a2', 'b1']),
  },
  {
    name: 'xds:///app:50051 routes like xds:///app',
    target: 'xds:///app:50051',
    call: { metadata: { version: 'v2' }, count: 4 },
    expect: (r) => assertAnsweredBy(r, ['b1']),
  },
  {
    name: 'instance weights split traffic, also across zones',
    target: 'xds:///zoned',
    // z1: w-heavy (weight 2); z2: w-1a, w-1b (weight 1 each) → 50% / 25% / 25%.
    call: { count: 400 },
    expect: (r) => assertShares(r, { 'w-heavy': 0.5, 'w-1a': 0.25, 'w-1b': 0.25 }, 0.1),
  },
  {
    name: 'policy defaultVersion sends header-less calls to that version',
    policy: { defaultVersion: 'v2' },
    call: { count: 8 },
    expect: (r) => assertAnsweredBy(r, ['b1']),
  },
  {
    name: 'policy weights split header-less calls between versions',
    policy: { weights: { v1: 1, v2: 3 } },
    call: { count: 400 },
    // v2 gets 75% (one instance); v1's 25% is shared by two.
    expect: (r) => assertShares(r, { b1: 0.75, a1: 0.125, a2: 0.125 }, 0.1),
  },
  {
    name: 'a policy header rule wins over version routing',
    policy: {
      defaultVersion: 'v1',
      routes: [
        { match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v2' },
        { match: { headers: [{ name: 'x-tenant', regex: 't-[0-9]+' }] }, version: 'v2' },
      ],
    },
    call: { metadata: { 'x-group': 'beta', version: 'v1' }, count: 6 },
    expect: (r) => assertAnsweredBy(r, ['b1']),
  },
  {
    name: 'a regex header rule matches the whole value',
    call: { metadata: { 'x-tenant': 't-42' }, count: 6 },
    expect: (r) => assertAnsweredBy(r, ['b1']),
  },
  {
    name: 'calls matching no rule fall through to the default version',
    call: { metadata: { 'x-group': 'alpha', 'x-tenant': 't-42x' }, count: 8 },
    expect: (r) => assertAnsweredBy(r, ['a1', 'a2']),
  },
  {
    name: 'a header route with weights splits its calls between versions',
    policy: {
      routes: [{ match: { headers: [{ name: 'x-group', exact: 'beta' }] }, weights: { v1: 1, v2: 3 } }],
    },
    call: { metadata: { 'x-group': 'beta' }, count: 400 },
    // As for the policy's own weights: v2 gets 75% (one instance), v1's 25% is shared by two.
    expect: (r) => assertShares(r, { b1: 0.75, a1: 0.125, a2: 0.125 }, 0.1),
  },
  {
    name: 'a weights route whose versions have no instances fails with UNAVAILABLE',
    policy: {
      routes: [{ match: { headers: [{ name: 'x-group', exact: 'beta' }] }, weights: { v8: 1, v9: 1 } }],
    },
    call: { metadata: { 'x-group': 'beta' }, count: 4 },
    expect: (r) => assertAllFailed(r, UNAVAILABLE),
  },
  {
    name: 'a method route sends calls of that method to its version (exact path)',
    policy: { routes: [{ match: { method: { exact: '/etcd_xds.demo.v1.Echo/WhoElse' } }, version: 'v2' }] },
    call: { method: '/etcd_xds.demo.v1.Echo/WhoElse', count: 6 },
    expect: (r) => assertAnsweredBy(r, ['b1']),
  },
  {
    name: 'calls of other methods are not matched by a method route',
    call: { count: 15 },
    expect: (r) => assertAnsweredBy(r, ['a1', 'a2', 'b1']),
  },
  {
    name: 'a method route by prefix, with a header, wins over version routing',
    policy: {
      routes: [
        {
          match: {
            method: { prefix: '/etcd_xds.demo.v1.Echo/WhoE' },
            headers: [{ name: 'x-group', exact: 'beta' }],
          },
          version: 'v2',
        },
      ],
    },
    call: {
      method: '/etcd_xds.demo.v1.Echo/WhoElse',
      metadata: { 'x-group': 'beta', version: 'v1' },
      count: 6,
    },
    expect: (r) => assertAnsweredBy(r, ['b1']),
  },
  {
    name: 'a method route by RE2 regex matches the whole path',
    policy: {
      routes: [
        { match: { method: { regex: '/etcd_xds\\.demo\\.v1\\.Echo/Who' } }, version: 'v2' },
        { match: { method: { regex: '.*Else' } }, weights: { v1: 1, v2: 1 } },
      ],
    },
    call: { method: '/etcd_xds.demo.v1.Echo/WhoElse', count: 200 },
    // Not the first route (Who is not the whole path); the second splits v1 and v2 evenly.
    expect: (r) => assertShares(r, { b1: 0.5, a1: 0.25, a2: 0.25 }, 0.1),
  },
  {
    name: 'onUnknownVersion "default" treats an unknown version as no header',
    policy: { defaultVersion: 'v1', onUnknownVersion: 'default' },
    call: { metadata: { version: 'v9' }, count: 8 },
    expect: (r) => assertAnsweredBy(r, ['a1', 'a2']),
  },
  {
    name: 'ring_hash keeps calls with the same header value on one instance (round robin where it would crash)',
    policy: { lbPolicy: 'ring_hash', hashHeader: 'x-user' },
    call: { metadata: { 'x-user': 'alice', version: 'v1' }, count: 10 },
    explainsMore: true,
    expect: (r, client) =>
      ringHashCapable(client)
        ? assert.equal(answeredBy(r).size, 1, 'alice should stick to one instance')
        : assertAnsweredBy(r, ['a1', 'a2']),
  },
  {
    name: 'deleting the policy restores the defaults',
    policy: null,
    call: { count: 15 },
    expect: (r) => assertAnsweredBy(r, ['a1', 'a2', 'b1']),
  },
];

/**
 * /debug/explain for the scenario's call names the instances the clients reached (all of them, or
 * a superset for ring hash), or says the call fails when every call failed.
 */
async function assertExplainAgrees(
  mesh: Mesh,
  scenario: Scenario,
  answered: ReadonlySet<string>,
): Promise<void> {
  const service = (scenario.target ?? 'xds:///app').replace(/^xds:\/\/\//, '').replace(/:\d+$/, '');
  const query = new URLSearchParams({ service });
  for (const [name, value] of Object.entries(scenario.call.metadata ?? {}))
    query.append('header', `${name}:${value}`);
  if (scenario.call.method !== undefined) query.append('method', scenario.call.method);
  const { status, body } = await mesh.server.admin<Explanation>(`/debug/explain?${query.toString()}`);
  assert.equal(status, 200, JSON.stringify(body));
  const explained = new Set(
    body.clusters.filter((c) => c.weight > 0).flatMap((c) => c.endpoints.map((e) => e.id ?? e.address)),
  );
  const what = `explain ${JSON.stringify(body)} vs calls answered by ${[...answered].join(',')}`;
  if (answered.size === 0) {
    assert.equal(body.outcome, 'unavailable', what);
    return;
  }
  assert.equal(body.outcome, 'routed', what);
  if (scenario.explainsMore) for (const id of answered) assert.ok(explained.has(id), what);
  else assert.deepEqual([...explained].sort(), [...answered].sort(), what);
}

/** Registers one test per scenario; every client must pass each before the next policy change. */
export function defineRoutingTable(mesh: () => Mesh, clients: () => Iterable<RoutingClient>): void {
  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      if (scenario.policy === null) await mesh().deletePolicy('app');
      else if (scenario.policy !== undefined) await mesh().putPolicy('app', scenario.policy);
      const answered = new Set<string>();
      for (const client of clients()) {
        try {
          const { value } = await eventually(
            () => client.call(scenario.target ?? 'xds:///app', scenario.call),
            (results) => scenario.expect(results, client),
            // C-core 1.51 whose calls were failing fast reads its xDS stream only when the channel
            // backup poller runs (5 s): 9.6–15 s to see an update (churn.test.ts measures it, and
            // checks the server's push is prompt); 15 s was the edge of that range.
            { timeoutMs: client.language === 'python' ? 30_000 : 15_000 },
          );
          for (const result of value) if (result.ok) answered.add(result.id);
        } catch (error) {
          throw new Error(
            `${client.language} ${client.version}: ${(error as Error).message}\n${client.log.slice(-2000)}`,
          );
        }
      }
      await assertExplainAgrees(mesh(), scenario, answered);
    });
  }

  it('ring_hash spreads different header values over the instances', async () => {
    await mesh().putPolicy('app', { lbPolicy: 'ring_hash', hashHeader: 'x-user' });
    for (const client of clients()) {
      if (!ringHashCapable(client)) continue; // covered by the table: it gets round robin
      const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
      await eventually(
        async () =>
          Promise.all(
            users.map((user) => client.call('xds:///app', { metadata: { 'x-user': user }, count: 5 })),
          ),
        (perUser) => {
          for (const results of perUser)
            assert.equal(answeredBy(results).size, 1, `${client.language}: a user moved`);
          const instances = new Set(perUser.map((results) => [...answeredBy(results)][0]));
          assert.ok(
            instances.size >= 2,
            `${client.language}: 12 users all hashed to ${[...instances].join()}`,
          );
        },
      );
    }
    await mesh().deletePolicy('app');
  });
}
