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
        zoneAffinity: false,
        callerKeys: [],
      },
    });
  });

  it('parses timeouts and retries, service-level and per route (contract §8)', () => {
    const result = parsePolicy(
      KEY,
      JSON.stringify({
        timeout: '2s',
        retry: { on: ['unavailable', 'cancelled', 'unavailable'], attempts: 3 },
        routes: [
          {
            match: { headers: [{ name: 'x-slow', present: true }] },
            version: 'v1',
            timeout: '1.5ms',
            retry: { on: ['deadline-exceeded'], attempts: 5, backoff: { base: '10ms', max: '1s' } },
          },
          {
            match: { headers: [{ name: 'x-b', present: true }] },
            version: 'v1',
            retry: { on: ['internal'], attempts: 2, backoff: { base: '50ms' } },
          },
        ],
      }),
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value.timeoutMs, 2000);
    assert.deepEqual(result.value.retry, {
      on: ['cancelled', 'unavailable'],
      attempts: 3,
      backoffBaseMs: 25,
      backoffMaxMs: 250,
    });
    assert.equal(result.value.routes[0].timeoutMs, 1.5);
    assert.deepEqual(result.value.routes[0].retry, {
      on: ['deadline-exceeded'],
      attempts: 5,
      backoffBaseMs: 10,
      backoffMaxMs: 1000,
    });
    // Without a max, 10 × base, as gRPC and Envoy do.
    assert.equal(result.value.routes[1].retry?.backoffMaxMs, 500);
    assert.equal(result.value.routes[1].timeoutMs, undefined);
  });

  it("parses circuit breaking and outlier detection, filling in gRPC's defaults", () => {
    const result = parsePolicy(
      KEY,
      JSON.stringify({
        maxRequests: 2,
        outlierDetection: { interval: '1s', failurePercentage: { threshold: 50 } },
      }),
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value.maxRequests, 2);
    assert.deepEqual(result.value.outlierDetection, {
      intervalMs: 1000,
      baseEjectionMs: 30_000,
      maxEjectionMs: 300_000,
      maxEjectionPercent: 10,
      failurePercentage: { threshold: 50, minimumHosts: 5, requestVolume: 50, enforcementPercentage: 100 },
    });
  });

  it('parses caller and method matches, and lists the caller labels the policy reads', () => {
    const result = parsePolicy(
      KEY,
      JSON.stringify({
        routes: [
          { match: { caller: { version: 'v2', service: 'app' } }, version: 'v3' },
          { match: { method: { exact: '/pkg.Echo/Who' } }, version: 'v1' },
          { match: { method: { prefix: '/pkg.Echo/' }, caller: { zone: 'z1' } }, weights: { v1: 1, v3: 1 } },
          {
            match: { method: { regex: '/pkg\\.Echo/W.*' }, headers: [{ name: 'x-a', present: true }] },
            version: 'v1',
          },
        ],
      }),
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.value.routes, [
      {
        headers: [],
        caller: [
          ['service', 'app'],
          ['version', 'v2'],
        ],
        version: 'v3',
      },
      { headers: [], method: { kind: 'exact', value: '/pkg.Echo/Who' }, version: 'v1' },
      {
        headers: [],
        caller: [['zone', 'z1']],
        method: { kind: 'prefix', value: '/pkg.Echo/' },
        weights: [
          { version: 'v1', weight: 1 },
          { version: 'v3', weight: 1 },
        ],
      },
      {
        headers: [{ name: 'x-a', invert: false, kind: 'present', value: true }],
        method: { kind: 'regex', value: '/pkg\\.Echo/W.*' },
        version: 'v1',
      },
    ]);
    assert.deepEqual(result.value.callerKeys, ['service', 'version', 'zone']);
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
    ['zero maxRequests', '{"maxRequests":0}', /maxRequests/],
    ['fractional maxRequests', '{"maxRequests":1.5}', /maxRequests/],
    ['maxRequests over 2^31-1', '{"maxRequests":2147483648}', /maxRequests/],
    [
      'outlier detection without an algorithm',
      '{"outlierDetection":{"interval":"1s"}}',
      /outlierDetection: outlierDetection needs at least one of failurePercentage, successRate/,
    ],
    [
      'a failure threshold over 100',
      '{"outlierDetection":{"failurePercentage":{"threshold":101}}}',
      /outlierDetection\.failurePercentage\.threshold/,
    ],
    [
      'a bad ejection time',
      '{"outlierDetection":{"baseEjectionTime":"long","successRate":{}}}',
      /outlierDetection\.baseEjectionTime: "long" must be a duration/,
    ],
    [
      'an unknown outlier field',
      '{"outlierDetection":{"consecutive5xx":5,"successRate":{}}}',
      /Unrecognized key.*consecutive5xx/,
    ],
    ['a zero timeout', '{"timeout":"0ms"}', /timeout: "0ms" must be between 1ms and 60m/],
    ['a timeout over an hour', '{"timeout":"3601s"}', /timeout: "3601s" must be between 1ms and 60m/],
    ['a timeout in minutes', '{"timeout":"2m"}', /timeout: "2m" must be a duration such as "250ms", "1.5s"/],
    ['a timeout that is a number', '{"timeout":2}', /timeout: Invalid input: expected string/],
    ['retries on nothing', '{"retry":{"on":[],"attempts":2}}', /retry\.on/],
    [
      'retries on an unknown code',
      '{"retry":{"on":["unavailable","not-found"],"attempts":2}}',
      /retry\.on\[1\]/,
    ],
    ['one attempt', '{"retry":{"on":["unavailable"],"attempts":1}}', /retry\.attempts/],
    ['six attempts', '{"retry":{"on":["unavailable"],"attempts":6}}', /retry\.attempts/],
    [
      'a backoff max under its base',
      '{"retry":{"on":["unavailable"],"attempts":2,"backoff":{"base":"100ms","max":"50ms"}}}',
      /retry\.backoff: max 50ms is less than base 100ms/,
    ],
    [
      'a bad backoff base',
      '{"retry":{"on":["unavailable"],"attempts":2,"backoff":{"base":"fast"}}}',
      /retry\.backoff\.base: "fast" must be a duration/,
    ],
    [
      'an unknown retry field',
      '{"retry":{"on":["unavailable"],"attempts":2,"perTry":"1s"}}',
      /Unrecognized key.*perTry/,
    ],
    [
      'a bad route timeout',
      '{"routes":[{"match":{"headers":[{"name":"a","exact":"x"}]},"version":"v1","timeout":"soon"}]}',
      /routes\[0\]\.timeout: "soon" must be a duration/,
    ],
    [
      'a route matching on a path (the field is method)',
      '{"routes":[{"match":{"path":"/x","headers":[{"name":"a","exact":"x"}]},"version":"v1"}]}',
      /Unrecognized key.*path/,
    ],
    [
      'a route match with nothing to match',
      '{"routes":[{"match":{},"version":"v1"}]}',
      /routes\[0\]\.match: a route match needs at least one of headers, caller, method/,
    ],
    [
      'an empty caller',
      '{"routes":[{"match":{"caller":{}},"version":"v1"}]}',
      /match\.caller: needs 1-16 labels/,
    ],
    [
      'a caller with 17 labels',
      JSON.stringify({
        routes: [
          {
            match: { caller: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'x'])) },
            version: 'v1',
          },
        ],
      }),
      /match\.caller: needs 1-16 labels/,
    ],
    [
      'a caller label key with a space',
      '{"routes":[{"match":{"caller":{"my key":"x"}},"version":"v1"}]}',
      /routes\[0\]\.match\.caller: label key "my key" must be 1-63 characters/,
    ],
    [
      'a caller label value that is not printable ASCII',
      '{"routes":[{"match":{"caller":{"team":"caf\\u00e9"}},"version":"v1"}]}',
      /routes\[0\]\.match\.caller: label "team": value "café" must be 0-253 printable ASCII/,
    ],
    [
      'a caller label value that is not a string',
      '{"routes":[{"match":{"caller":{"version":2}},"version":"v1"}]}',
      /routes\[0\]\.match\.caller\.version: Invalid input: expected string/,
    ],
    [
      'a method matcher with two kinds',
      '{"routes":[{"match":{"method":{"exact":"/a.B/C","prefix":"/a."}},"version":"v1"}]}',
      /a method matcher needs exactly one of exact, prefix, regex/,
    ],
    [
      'an exact method that is not /package.Service/Method',
      '{"routes":[{"match":{"method":{"exact":"a.B/C"}},"version":"v1"}]}',
      /routes\[0\]\.match\.method\.exact: "a\.B\/C" is not a method path/,
    ],
    [
      'a method prefix without the leading slash',
      '{"routes":[{"match":{"method":{"prefix":"pkg."}},"version":"v1"}]}',
      /routes\[0\]\.match\.method\.prefix: "pkg\." must start with "\/"/,
    ],
    [
      'a method regex RE2 cannot run',
      '{"routes":[{"match":{"method":{"regex":"(a)\\\\1"}},"version":"v1"}]}',
      /routes\[0\]\.match\.method\.regex: not a valid RE2/,
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
