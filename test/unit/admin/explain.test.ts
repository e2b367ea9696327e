// Explain (contract §11) on every kind of route, read from the resources a client would be sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainCall, type Explanation } from '../../../src/admin/explain';
import { AliasEncodings, Snapshot } from '../../../src/cache/snapshot';
import type { Catalog } from '../../../src/registry/catalog';
import { DEFAULT_TRANSLATE_SETTINGS, translator } from '../../../src/translate/flavours';
import { plainView, viewOf, type View } from '../../../src/translate/view';
import { CALL_POLICY, catalogOf, type InstanceSpec } from '../fixtures';

const USER: InstanceSpec[] = [
  { service: 'user', id: 'u1', version: 'v1', address: '10.0.0.1:50051', zone: 'z1' },
  { service: 'user', id: 'u1b', version: 'v1', address: '10.0.0.2:50051', zone: 'z2', weight: 3 },
  { service: 'user', id: 'u3', version: 'v3', address: '[2001:db8::3]:50051' },
];

/** The cache's answers, from the same translation the server uses. */
function cacheOf(catalog: Catalog) {
  const translate = translator(DEFAULT_TRANSLATE_SETTINGS);
  const plain = Snapshot.encode(translate.translate(catalog, plainView('grpc')), new AliasEncodings());
  return {
    translatedCatalog: () => catalog,
    viewOf: (client: Parameters<typeof viewOf>[0]) => viewOf(client, catalog),
    snapshotOf: (view: View) => plain.withOverrides(translate.overrides(catalog, view)),
  };
}

function ask(
  policy: object | undefined,
  call: { headers?: Record<string, string>; caller?: Record<string, string>; method?: string } = {},
): Explanation {
  const catalog = catalogOf(USER, policy === undefined ? {} : { user: policy });
  const answer = explainCall(cacheOf(catalog), new Map(Object.entries(call.caller ?? {}).sort()), {
    service: 'user',
    headers: new Map(Object.entries(call.headers ?? {})),
    method: call.method,
  });
  assert.ok(typeof answer === 'object', `no explanation: ${JSON.stringify(answer)}`);
  return answer;
}

/** cluster → weight → endpoint ids, the part most assertions need. */
const targets = (answer: Explanation): [string, number, (string | null)[]][] =>
  answer.clusters.map((c) => [c.name, c.weight, c.endpoints.map((e) => e.id)]);

describe('explain', () => {
  it('version routing: the version-<v> route, with every endpoint field', () => {
    const answer = ask(undefined, { headers: { version: 'v1' } });
    assert.deepEqual(answer.route, { name: 'version-v1', index: 0 });
    assert.equal(answer.outcome, 'routed');
    assert.equal(answer.reason, undefined);
    assert.deepEqual(answer.clusters, [
      {
        name: 'user/v1',
        weight: 100,
        endpoints: [
          {
            address: '10.0.0.1:50051',
            id: 'u1',
            version: 'v1',
            zone: 'z1',
            weight: 1,
            status: 'serving',
            priority: 0,
          },
          {
            address: '10.0.0.2:50051',
            id: 'u1b',
            version: 'v1',
            zone: 'z2',
            weight: 3,
            status: 'serving',
            priority: 0,
          },
        ],
      },
    ]);
    assert.equal(answer.timeout, null);
    assert.equal(answer.retry, null);
  });

  it('an unknown version: the unknown-version route, unavailable with a reason', () => {
    const answer = ask(undefined, { headers: { version: 'v9' } });
    assert.deepEqual(answer.route, { name: 'unknown-version', index: 2 });
    assert.equal(answer.outcome, 'unavailable');
    assert.match(answer.reason!, /no instances of user with the requested version/);
    assert.deepEqual(answer.clusters, []);
  });

  it('no header: the default route to every instance (IPv6 addresses bracketed)', () => {
    const answer = ask(undefined);
    assert.deepEqual(answer.route, { name: 'default', index: 3 });
    assert.deepEqual(targets(answer), [['user', 100, ['u3', 'u1', 'u1b']]]);
    assert.equal(answer.clusters[0].endpoints[0].address, '[2001:db8::3]:50051');
  });

  it('default weights split by version, in percent', () => {
    const answer = ask({ weights: { v1: 1, v3: 3 } });
    assert.deepEqual(targets(answer), [
      ['user/v1', 25, ['u1', 'u1b']],
      ['user/v3', 75, ['u3']],
    ]);
  });

  it('a header route to a version without instances is unavailable, saying why', () => {
    const answer = ask(
      { routes: [{ match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v2' }] },
      { headers: { 'x-group': 'beta' } },
    );
    assert.deepEqual(answer.route, { name: 'policy-0', index: 0 });
    assert.equal(answer.outcome, 'unavailable');
    assert.equal(answer.reason, 'no instances of user version v2');
  });

  it('a caller route applies only to the callers it names, and its index counts served routes', () => {
    const policy = {
      routes: [
        { match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v1' },
        { match: { caller: { service: 'app', version: 'v2' } }, version: 'v3' },
      ],
    };
    const pinned = ask(policy, { caller: { service: 'app', version: 'v2' }, headers: { version: 'v1' } });
    assert.deepEqual(pinned.route, { name: 'policy-1', index: 1 });
    assert.deepEqual(pinned.caller, { service: 'app', version: 'v2' });
    assert.deepEqual(targets(pinned), [['user/v3', 100, ['u3']]]);
    // app v1 does not get the caller route: version routing applies, and the route after
    // policy-0 is version-v1 at index 1.
    const other = ask(policy, { caller: { service: 'app', version: 'v1' }, headers: { version: 'v1' } });
    assert.deepEqual(other.route, { name: 'version-v1', index: 1 });
    assert.deepEqual(targets(other), [['user/v1', 100, ['u1', 'u1b']]]);
  });

  it('a caller route with weights', () => {
    const answer = ask(
      { routes: [{ match: { caller: { service: 'app' } }, weights: { v1: 1, v3: 1 } }] },
      { caller: { service: 'app', pod: 'p-1' } },
    );
    assert.deepEqual(answer.route, { name: 'policy-0', index: 0 });
    assert.deepEqual(targets(answer), [
      ['user/v1', 50, ['u1', 'u1b']],
      ['user/v3', 50, ['u3']],
    ]);
  });

  it('method routes: exact, prefix and regex, and skipped when no method is given', () => {
    const policy = {
      routes: [
        { match: { method: { exact: '/pkg.Echo/Who' } }, version: 'v3' },
        { match: { method: { prefix: '/pkg.Admin/' } }, version: 'v1' },
        { match: { method: { regex: '/pkg\\.Echo/Wh[a-z]+' } }, weights: { v1: 1, v3: 1 } },
      ],
    };
    assert.equal(ask(policy, { method: '/pkg.Echo/Who' }).route?.name, 'policy-0');
    assert.equal(ask(policy, { method: '/pkg.Admin/Get' }).route?.name, 'policy-1');
    assert.equal(ask(policy, { method: '/pkg.Echo/Whom' }).route?.name, 'policy-2');
    assert.equal(ask(policy, { method: '/pkg.Echo/Whom2' }).route?.name, 'default');
    assert.equal(ask(policy).route?.name, 'default');
  });

  it('header matchers: prefix, regex (whole value), present, absent, inverted', () => {
    const route = (headers: object[]) => ({ routes: [{ match: { headers }, version: 'v3' }] });
    const hit = (policy: object, headers: Record<string, string>) =>
      ask(policy, { headers }).route?.name === 'policy-0';
    assert.ok(hit(route([{ name: 'x-a', prefix: 'be' }]), { 'x-a': 'beta' }));
    assert.ok(!hit(route([{ name: 'x-a', prefix: 'be' }]), { 'x-a': 'alpha' }));
    assert.ok(hit(route([{ name: 'x-a', regex: 't-[0-9]+' }]), { 'x-a': 't-42' }));
    assert.ok(!hit(route([{ name: 'x-a', regex: 't-[0-9]+' }]), { 'x-a': 't-42x' }));
    assert.ok(hit(route([{ name: 'x-a', present: true }]), { 'x-a': '' }));
    assert.ok(hit(route([{ name: 'x-a', present: false }]), {}));
    assert.ok(!hit(route([{ name: 'x-a', present: false }]), { 'x-a': '1' }));
    assert.ok(hit(route([{ name: 'x-a', exact: 'no', invert: true }]), { 'x-a': 'yes' }));
    // An inverted matcher does not match an absent header (gRFC A28, as gRPC clients do).
    assert.ok(!hit(route([{ name: 'x-a', exact: 'no', invert: true }]), {}));
  });

  it("gives the timeout and retries in force, a route's over the service's", () => {
    const versioned = ask(CALL_POLICY, { headers: { version: 'v1' } });
    assert.equal(versioned.timeout, '2s');
    assert.deepEqual(versioned.retry, {
      on: ['cancelled', 'unavailable'],
      attempts: 3,
      backoff: { base: '25ms', max: '250ms' },
    });
    const slow = ask(CALL_POLICY, { headers: { 'x-slow': '1' } });
    assert.equal(slow.route?.name, 'policy-0');
    assert.equal(slow.timeout, '300ms');
    assert.deepEqual(slow.retry, {
      on: ['deadline-exceeded'],
      attempts: 2,
      backoff: { base: '10ms', max: '1500ms' },
    });
    // A route that fails every call carries neither.
    const gone = ask(CALL_POLICY, { headers: { 'x-gone': '1' } });
    assert.equal(gone.outcome, 'unavailable');
    assert.equal(gone.timeout, null);
    assert.equal(gone.retry, null);
  });

  it('says so for a service that does not exist', () => {
    const catalog = catalogOf(USER);
    const answer = explainCall(cacheOf(catalog), new Map(), {
      service: 'nope',
      headers: new Map(),
      method: undefined,
    });
    assert.equal(answer, 'no-such-service');
  });
});
