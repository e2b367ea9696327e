import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRoutes, type RouteAction } from '../../../src/translate/route-plan';
import { serviceOf, type InstanceSpec } from '../fixtures';

const v1v2: InstanceSpec[] = [
  { id: 'a', version: 'v1', address: '10.0.0.1:80' },
  { id: 'b', version: 'v2', address: '10.0.0.2:80' },
];

/** [route name, header summary, action summary] */
function summary(instances: InstanceSpec[], policy?: object): [string, string, string][] {
  return planRoutes(serviceOf(instances, policy)).routes.map((route) => [
    route.name,
    route.headers.map((h) => `${h.name}${h.invert ? '!' : ''}:${h.kind}=${String(h.value)}`).join(','),
    describeAction(route.action),
  ]);
}

function describeAction(action: RouteAction): string {
  switch (action.kind) {
    case 'cluster':
      return `→ ${action.cluster}`;
    case 'weighted':
      return `→ ${action.clusters.map((c) => `${c.cluster}@${c.weight}`).join(' ')}`;
    case 'reject':
      return `UNAVAILABLE (${action.reason})`;
  }
}

describe('planRoutes (contract §4, in order of evaluation)', () => {
  it('without a policy: version routes, unknown versions rejected, no header → every instance', () => {
    assert.deepEqual(summary(v1v2), [
      ['version-v1', 'version:exact=v1', '→ app/v1'],
      ['version-v2', 'version:exact=v2', '→ app/v2'],
      [
        'unknown-version',
        'version:present=true',
        'UNAVAILABLE (no instances of app with the requested version)',
      ],
      ['default', '', '→ app'],
    ]);
  });

  it('policy routes come first, first match wins; a route to a version without instances fails', () => {
    const plan = summary(v1v2, {
      routes: [
        { match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v2' },
        { match: { headers: [{ name: 'x-group', exact: 'gamma' }] }, version: 'v3' },
      ],
    });
    assert.deepEqual(plan.slice(0, 2), [
      ['policy-0', 'x-group:exact=beta', '→ app/v2'],
      ['policy-1', 'x-group:exact=gamma', 'UNAVAILABLE (no instances of app version v3)'],
    ]);
    assert.equal(plan[2][0], 'version-v1');
  });

  it('a route with weights splits between the versions that have instances, like the policy weights', () => {
    const plan = summary([...v1v2, { id: 'c', version: 'v3', address: '10.0.0.3:80' }], {
      routes: [
        { match: { headers: [{ name: 'x-group', exact: 'beta' }] }, weights: { v1: 1, v2: 2, v9: 5 } },
        { match: { headers: [{ name: 'x-group', exact: 'solo' }] }, weights: { v3: 1, v9: 1 } },
        { match: { headers: [{ name: 'x-group', exact: 'none' }] }, weights: { v8: 1, v9: 1 } },
      ],
    });
    assert.deepEqual(plan.slice(0, 3), [
      // v9 has no instances: it gets no share; 1:2 is sent as whole percentages summing to 100.
      ['policy-0', 'x-group:exact=beta', '→ app/v1@33 app/v2@67'],
      ['policy-1', 'x-group:exact=solo', '→ app/v3'],
      ['policy-2', 'x-group:exact=none', 'UNAVAILABLE (no instances of app in any weighted version)'],
    ]);
  });

  it('uses the configured header', () => {
    assert.deepEqual(summary(v1v2, { header: 'x-version' })[0], [
      'version-v1',
      'x-version:exact=v1',
      '→ app/v1',
    ]);
  });

  it('onUnknownVersion "default" treats an unknown version as no header', () => {
    const plan = summary(v1v2, { onUnknownVersion: 'default', defaultVersion: 'v1' });
    assert.deepEqual(
      plan.map(([name]) => name),
      ['version-v1', 'version-v2', 'default'],
    );
    assert.equal(plan[2][2], '→ app/v1');
  });

  it('no header → defaultVersion when set (even with weights)', () => {
    assert.deepEqual(summary(v1v2, { defaultVersion: 'v2', weights: { v1: 1, v2: 1 } }).at(-1), [
      'default',
      '',
      '→ app/v2',
    ]);
  });

  it('no header → defaultVersion without instances fails with UNAVAILABLE', () => {
    assert.deepEqual(summary(v1v2, { defaultVersion: 'v3' }).at(-1), [
      'default',
      '',
      'UNAVAILABLE (no instances of app version v3)',
    ]);
  });

  it('no header → split by normalised weights', () => {
    assert.deepEqual(summary(v1v2, { weights: { v1: 3, v2: 1 } }).at(-1), [
      'default',
      '',
      '→ app/v1@75 app/v2@25',
    ]);
  });

  it('weights only share among versions that have instances', () => {
    assert.deepEqual(summary(v1v2, { weights: { v1: 1, v3: 9 } }).at(-1), ['default', '', '→ app/v1']);
    assert.deepEqual(summary(v1v2, { weights: { v3: 1, v4: 1 } }).at(-1), [
      'default',
      '',
      'UNAVAILABLE (no instances of app in any weighted version)',
    ]);
  });

  it('instances without a version serve only version-less traffic', () => {
    const plan = summary([{ id: 'a', address: '10.0.0.1:80' }, ...v1v2]);
    assert.deepEqual(
      plan.map(([name]) => name),
      ['version-v1', 'version-v2', 'unknown-version', 'default'],
    );
  });

  it('a service with only a policy has just the reject and default routes', () => {
    assert.deepEqual(summary([], {}), [
      [
        'unknown-version',
        'version:present=true',
        'UNAVAILABLE (no instances of app with the requested version)',
      ],
      ['default', '', '→ app'],
    ]);
  });

  it('ring_hash plans carry the hash header', () => {
    assert.equal(
      planRoutes(serviceOf(v1v2, { lbPolicy: 'ring_hash', hashHeader: 'x-user' })).hashHeader,
      'x-user',
    );
    assert.equal(planRoutes(serviceOf(v1v2)).hashHeader, undefined);
  });
});
