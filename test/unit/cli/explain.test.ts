import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Explanation } from '../../../src/admin/explain';
import { explainUrl, formatExplanation } from '../../../src/cli/explain';

const base = {
  service: 'user',
  headers: [],
  callers: [],
  method: undefined,
  admin: 'http://127.0.0.1:18001',
};

describe('etcd-xds explain', () => {
  it('asks /debug/explain with every header, caller label and the method', () => {
    const url = explainUrl({
      ...base,
      headers: ['version:v1', 'x-group:beta:x'],
      callers: ['service=app', 'team=a=b'],
      method: '/pkg.Echo/Who',
    });
    assert.ok(url instanceof URL);
    assert.equal(url.pathname, '/debug/explain');
    assert.deepEqual(url.searchParams.getAll('header'), ['version:v1', 'x-group:beta:x']);
    // LABEL=VALUE on the command line, LABEL:VALUE on the wire; a value may hold "=".
    assert.deepEqual(url.searchParams.getAll('caller'), ['service:app', 'team:a=b']);
    assert.equal(url.searchParams.get('method'), '/pkg.Echo/Who');
  });

  it('takes host:port for --admin as plain HTTP', () => {
    const url = explainUrl({ ...base, admin: '10.0.0.7:18001' });
    assert.ok(url instanceof URL);
    assert.equal(url.origin, 'http://10.0.0.7:18001');
  });

  for (const [what, options, message] of [
    ['a header without a colon', { headers: ['version'] }, /-H: "version" must be NAME:VALUE/],
    ['a caller without =', { callers: ['app'] }, /--caller: "app" must be LABEL=VALUE/],
    ['a non-HTTP admin URL', { admin: 'ftp://x' }, /must be an http\(s\) URL/],
  ] as const) {
    it(`refuses ${what}`, () => {
      const url = explainUrl({ ...base, ...options });
      assert.ok(!(url instanceof URL));
      assert.match(url.error, message);
    });
  }

  it('prints an answer in a few lines', () => {
    const answer: Explanation = {
      service: 'user',
      caller: { service: 'app', version: 'v2' },
      headers: { version: 'v1' },
      method: null,
      route: { name: 'policy-0', index: 0 },
      outcome: 'routed',
      clusters: [
        {
          name: 'user/v3',
          weight: 100,
          endpoints: [
            {
              address: '10.0.0.3:80',
              id: 'u3',
              version: 'v3',
              zone: 'z1',
              weight: 2,
              status: 'serving',
              priority: 1,
            },
          ],
        },
      ],
      timeout: null,
      retry: null,
    };
    assert.equal(
      formatExplanation(answer),
      [
        'call to user from service=app,version=v2, headers version: v1',
        'route: policy-0 (#0 of the routes this client gets)',
        'outcome: routed',
        '  100% → cluster user/v3',
        '      u3 10.0.0.3:80 (version v3, zone z1, weight 2, serving, priority 1)',
        '',
      ].join('\n'),
    );
    assert.equal(
      formatExplanation({
        ...answer,
        caller: {},
        headers: {},
        route: null,
        outcome: 'unavailable',
        reason: 'no route matches the call',
        clusters: [],
      }),
      'call to user from a client without caller labels, no headers\nroute: none matches\noutcome: UNAVAILABLE — no route matches the call\n',
    );
  });
});
