import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy, policyService } from '../../../src/registry/policy';

const KEY = '/xds/policies/app';

describe('parsePolicy', () => {
  it('parses the contract example', () => {
    const result = parsePolicy(
      KEY,
      JSON.stringify({
        header: 'version',
        defaultVersion: 'v1',
        weights: { v2: 10, v1: 90 },
        onUnknownVersion: 'reject',
        routes: [{ match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v2' }],
        lbPolicy: 'round_robin',
      }),
    );
    assert.deepEqual(result, {
      ok: true,
      value: {
        key: KEY,
        header: 'version',
        defaultVersion: 'v1',
        weights: [
          { version: 'v1', weight: 90 },
          { version: 'v2', weight: 10 },
        ],
        onUnknownVersion: 'reject',
        routes: [
          { headers: [{ name: 'x-group', invert: false, kind: 'exact', value: 'beta' }], version: 'v2' },
        ],
        lbPolicy: 'round_robin',
        hashHeader: undefined,
      },
    });
  });

  it('parses a route that splits by weights instead of naming a version', () => {
    const result = parsePolicy(
      KEY,
      JSON.stringify({
        routes: [
          { match: { headers: [{ name: 'x-group', exact: 'beta' }] }, weights: { v3: 1, v2: 3, v1: 0 } },
        ],
      }),
    );
    assert.ok(result.ok);
    assert.deepEqual(result.value.routes, [
      {
        headers: [{ name: 'x-group', invert: false, kind: 'exact', value: 'beta' }],
        weights: [
          { version: 'v2', weight: 3 },
          { version: 'v3', weight: 1 },
        ],
      },
    ]);
  });

  it('fills in the defaults for an empty policy', () => {
    const result = parsePolicy(KEY, '{}');
    assert.ok(result.ok);
    assert.equal(result.value.header, 'version');
    assert.equal(result.value.onUnknownVersion, 'reject');
    assert.equal(result.value.lbPolicy, 'round_robin');
    assert.deepEqual(result.value.routes, []);
  });

  it('drops zero weights and keeps every kind of header matcher', () => {
    const result = parsePolicy(
      KEY,
      JSON.stringify({
        weights: { v1: 0, v2: 5 },
        routes: [
          {
            match: {
              headers: [
                { name: 'a', prefix: 'be' },
                { name: 'b', present: true },
                { name: 'c', regex: 'x[0-9]+', invert: true },
                { name: 'd', present: false },
              ],
            },
            version: 'v1',
          },
        ],
      }),
    );
    assert.ok(result.ok);
    assert.deepEqual(result.value.weights, [{ version: 'v2', weight: 5 }]);
    assert.deepEqual(
      result.value.routes[0].headers.map((h) => [h.kind, h.value, h.invert]),
      [
        ['prefix', 'be', false],
        ['present', true, false],
        ['regex', 'x[0-9]+', true],
        ['present', false, false],
      ],
    );
  });

  it('accepts ring_hash with a hash header', () => {
    const result = parsePolicy(KEY, '{"lbPolicy":"ring_hash","hashHeader":"x-user"}');
    assert.ok(result.ok);
    assert.equal(result.value.hashHeader, 'x-user');
  });

  const bad: [string, string, RegExp][] = [
    ['bad JSON', '{', /not valid JSON/],
    ['an array', '[]', /expected object/],
    ['an unknown field (a typo)', '{"defualtVersion":"v1"}', /Unrecognized key.*defualtVersion/],
    ['an upper-case header', '{"header":"Version"}', /header: header name "Version"/],
    ['a -bin header', '{"header":"trace-bin"}', /binary/],
    ['a grpc- header', '{"header":"grpc-timeout"}', /reserved/],
    ['a bad default version', '{"defaultVersion":"v 1"}', /defaultVersion: version/],
    ['a negative weight', '{"weights":{"v1":-1}}', /weights\.v1/],
    ['a fractional weight', '{"weights":{"v1":0.5}}', /weights\.v1/],
    ['all-zero weights', '{"weights":{"v1":0,"v2":0}}', /at least one version needs a positive weight/],
    [
      'too many weighted versions',
      JSON.stringify({ weights: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, 1])) }),
      /at most 100 versions/,
    ],
    ['an unknown onUnknownVersion', '{"onUnknownVersion":"drop"}', /onUnknownVersion/],
    ['an unknown lbPolicy', '{"lbPolicy":"random"}', /lbPolicy/],
    ['ring_hash without hashHeader', '{"lbPolicy":"ring_hash"}', /hashHeader: required/],
    ['hashHeader without ring_hash', '{"hashHeader":"x-user"}', /only used with lbPolicy ring_hash/],
    [
      'a matcher with two kinds',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x","prefix":"y"}]},"version":"v1"}]}',
      /exactly one of/,
    ],
    [
      'a matcher with no kind',
      '{"routes":[{"match":{"headers":[{"name":"a"}]},"version":"v1"}]}',
      /exactly one of/,
    ],
    [
      'a route with no headers',
      '{"routes":[{"match":{"headers":[]},"version":"v1"}]}',
      /routes\[0\]\.match\.headers/,
    ],
    [
      'a route with neither version nor weights',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x"}]}}]}',
      /routes\[0\]: a route needs exactly one of version, weights/,
    ],
    [
      'a route with both version and weights',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x"}]},"version":"v1","weights":{"v1":1}}]}',
      /routes\[0\]: a route needs exactly one of version, weights/,
    ],
    [
      'route weights that are all zero',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x"}]},"weights":{"v1":0}}]}',
      /routes\[0\]\.weights: at least one version needs a positive weight/,
    ],
    [
      'a negative route weight',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x"}]},"weights":{"v1":-1}}]}',
      /routes\[0\]\.weights\.v1/,
    ],
    [
      'a fractional route weight',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x"}]},"weights":{"v1":1.5}}]}',
      /routes\[0\]\.weights\.v1/,
    ],
    [
      'a bad version in route weights',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x"}]},"weights":{"v/1":1}}]}',
      /routes\[0\]\.weights\.v\/1: version "v\/1" must be/,
    ],
    [
      'too many weighted versions in a route',
      JSON.stringify({
        routes: [
          {
            match: { headers: [{ name: 'a', exact: 'x' }] },
            weights: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, 1])),
          },
        ],
      }),
      /routes\[0\]\.weights: at most 100 versions/,
    ],
    [
      'a route matching on a path',
      '{"routes":[{"match":{"path":"/x","headers":[{"name":"a","exact":"x"}]},"version":"v1"}]}',
      /Unrecognized key.*path/,
    ],
    [
      'an invalid regex',
      '{"routes":[{"match":{"headers":[{"name":"a","regex":"(unclosed"}]},"version":"v1"}]}',
      /regex: not a valid RE2/,
    ],
    [
      'a regex RE2 cannot run (backreference)',
      '{"routes":[{"match":{"headers":[{"name":"a","regex":"(a)\\\\1"}]},"version":"v1"}]}',
      /not a valid RE2/,
    ],
    [
      'a regex RE2 cannot run (lookahead)',
      '{"routes":[{"match":{"headers":[{"name":"a","regex":"a(?=b)"}]},"version":"v1"}]}',
      /not a valid RE2/,
    ],
    [
      'an empty prefix matcher',
      '{"routes":[{"match":{"headers":[{"name":"a","prefix":""}]},"version":"v1"}]}',
      /prefix/,
    ],
    [
      'a regex over the RE2 program size limit Envoy enforces',
      '{"routes":[{"match":{"headers":[{"name":"a","regex":"[a-z]{1,60}"}]},"version":"v1"}]}',
      /program size 121 is over the limit of 95/,
    ],
  ];
  for (const [what, value, message] of bad) {
    it(`rejects ${what}, naming the key`, () => {
      const result = parsePolicy(KEY, value);
      assert.equal(result.ok, false, `expected ${value} to be rejected`);
      if (result.ok) return;
      assert.equal(result.problem.code, 'EXDS_BAD_POLICY');
      assert.equal(result.problem.subject, KEY);
      assert.match(result.problem.message, message);
    });
  }
});

describe('policyService', () => {
  it('takes the service from the key', () => {
    assert.deepEqual(policyService('/xds/policies/', '/xds/policies/app'), { ok: true, value: 'app' });
  });
  it('rejects keys that are not <prefix><service>', () => {
    for (const key of ['/xds/policies/', '/xds/policies/a/b']) {
      const result = policyService('/xds/policies/', key);
      assert.equal(result.ok, false, key);
    }
  });
});
