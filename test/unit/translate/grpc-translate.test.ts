import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeResource } from '../../../src/cache/encoded-resource';
import { decodeToJson } from '../../../src/proto/proto-root';
import { CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE } from '../../../src/proto/xds-types';
import { translateFor } from '../../../src/translate/flavours';
import { translateForGrpc } from '../../../src/translate/grpc/translate';
import type { ResourceSet } from '../../../src/translate/resource-set';
import { CALL_POLICY, CLUSTER_POLICY, catalogOf, type InstanceSpec } from '../fixtures';
import { assertGolden, dump } from './golden';

const TWO_VERSIONS: InstanceSpec[] = [
  { id: 'app-1', version: 'v1', address: '10.0.0.1:50051' },
  { id: 'app-2', version: 'v1', address: '10.0.0.2:50051' },
  { id: 'app-3', version: 'v2', address: '10.0.0.3:50051' },
];

describe('translateForGrpc goldens', () => {
  it('two versions, no policy', () => {
    assertGolden('two-versions', dump(translateForGrpc(catalogOf(TWO_VERSIONS))));
  });

  it('the contract §4 policy example', () => {
    const policy = {
      header: 'version',
      defaultVersion: 'v1',
      weights: { v1: 90, v2: 10 },
      onUnknownVersion: 'reject',
      routes: [{ match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v2' }],
      lbPolicy: 'round_robin',
    };
    assertGolden('contract-policy', dump(translateForGrpc(catalogOf(TWO_VERSIONS, { app: policy }))));
  });

  it('weights, every header matcher, unknown versions as default', () => {
    const policy = {
      header: 'x-version',
      weights: { v1: 2, v2: 1 },
      onUnknownVersion: 'default',
      routes: [
        {
          match: {
            headers: [
              { name: 'x-a', prefix: 'pre' },
              { name: 'x-b', regex: 'id-[0-9]+' },
              { name: 'x-c', present: true },
              { name: 'x-d', present: false },
              { name: 'x-e', exact: 'no', invert: true },
            ],
          },
          version: 'v2',
        },
      ],
    };
    assertGolden('weights-matchers', dump(translateForGrpc(catalogOf(TWO_VERSIONS, { app: policy }))));
  });

  it('circuit breaking and outlier detection (contract §8) on every cluster of the service', () => {
    assertGolden('cluster-policy', dump(translateForGrpc(catalogOf(TWO_VERSIONS, { app: CLUSTER_POLICY }))));
  });

  it('a draining instance is sent DRAINING and its version, with no serving instance, is not routed to', () => {
    const instances: InstanceSpec[] = [
      ...TWO_VERSIONS.slice(0, 2),
      { id: 'app-2b', version: 'v1', address: '10.0.0.4:50051', status: 'draining' },
      { id: 'app-3', version: 'v2', address: '10.0.0.3:50051', status: 'draining' },
    ];
    assertGolden('draining', dump(translateForGrpc(catalogOf(instances))));
  });

  it('timeouts and retries (contract §8): service-level, per route, none on a failing route', () => {
    assertGolden('call-policy', dump(translateForGrpc(catalogOf(TWO_VERSIONS, { app: CALL_POLICY }))));
  });

  it('a header route that splits by weights', () => {
    const policy = {
      defaultVersion: 'v1',
      routes: [{ match: { headers: [{ name: 'x-group', exact: 'beta' }] }, weights: { v1: 1, v2: 3 } }],
    };
    assertGolden('route-weights', dump(translateForGrpc(catalogOf(TWO_VERSIONS, { app: policy }))));
  });

  it('zones and instance weights under round robin', () => {
    const instances: InstanceSpec[] = [
      { id: 'a', version: 'v1', address: '10.0.1.1:80', zone: 'z1' },
      { id: 'b', version: 'v1', address: '10.0.1.2:80', zone: 'z1', weight: 3 },
      { id: 'c', version: 'v1', address: '10.0.2.1:80', zone: 'z2', weight: 3 },
      { id: 'd', version: 'v1', address: '10.0.2.2:80', zone: 'z2', weight: 3 },
      { id: 'e', version: 'v1', address: '[2001:db8::1]:80' },
    ];
    const set = translateForGrpc(catalogOf(instances));
    assertGolden('zones-weights', dump(set));
  });

  it('ring hash on a header', () => {
    const instances: InstanceSpec[] = [
      { id: 'a', version: 'v1', address: '10.0.1.1:80', zone: 'z1' },
      { id: 'b', version: 'v1', address: '10.0.1.2:80', zone: 'z1', weight: 2 },
      { id: 'c', version: 'v1', address: '10.0.2.1:80', zone: 'z2' },
    ];
    const set = translateForGrpc(
      catalogOf(instances, { app: { lbPolicy: 'ring_hash', hashHeader: 'x-user' } }),
    );
    assertGolden('ring-hash', dump(set));
  });

  it('least_request is served to gRPC clients as round robin', () => {
    const set = translateForGrpc(catalogOf(TWO_VERSIONS, { app: { lbPolicy: 'least_request' } }));
    for (const cluster of set.byType.get(CLUSTER)!.values()) {
      assert.equal((cluster.message as { lb_policy: string }).lb_policy, 'ROUND_ROBIN');
    }
  });
});

describe('translateForGrpc', () => {
  it('names resources as documented', () => {
    const set = translateForGrpc(catalogOf(TWO_VERSIONS));
    assert.deepEqual([...set.byType.get(LISTENER)!.keys()], ['app']);
    assert.deepEqual([...set.byType.get(ROUTE)!.keys()], ['app']);
    assert.deepEqual([...set.byType.get(CLUSTER)!.keys()], ['app', 'app/v1', 'app/v2']);
    assert.deepEqual([...set.byType.get(ENDPOINT)!.keys()], ['app', 'app/v1', 'app/v2']);
  });

  it('answers listener names <service>:<port> with a listener of that name', () => {
    const set = translateForGrpc(catalogOf(TWO_VERSIONS));
    const alias = set.alias(LISTENER, 'app:50051');
    assert.equal(alias?.canonical, 'app');
    const listener = decodeToJson(LISTENER.messageName, encodeResource(alias.build()).bytes) as {
      name: string;
    };
    assert.equal(listener.name, 'app:50051');
    for (const name of ['app:0', 'app:70000', 'other:80', 'app:', 'app']) {
      assert.equal(set.alias(LISTENER, name), undefined, name);
    }
    assert.equal(set.alias(CLUSTER, 'app:80'), undefined);
  });

  it('gives the same bytes whatever order etcd delivered the keys in', () => {
    const forward = translateForGrpc(catalogOf(TWO_VERSIONS));
    const backward = translateForGrpc(catalogOf([...TWO_VERSIONS].reverse()));
    for (const type of PUSH_ORDER) {
      const a = [...forward.byType.get(type)!.values()].map((r) => encodeResource(r).version);
      const b = [...backward.byType.get(type)!.values()].map((r) => encodeResource(r).version);
      assert.deepEqual(a, b, type.short);
    }
  });

  it('reuses the translation of services that did not change', () => {
    const before = catalogOf([...TWO_VERSIONS, { service: 'other', id: 'o', address: '10.0.9.9:80' }]);
    const first = translateForGrpc(before);
    const second = translateForGrpc({ ...before, revision: 2 });
    assert.equal(first.byType.get(ROUTE)!.get('app'), second.byType.get(ROUTE)!.get('app'));
  });

  it('keeps a service route when an instance comes, however many services share the default policy', () => {
    // Policy-less services all share one policy object; the route memo must not be bounded per
    // policy, or a large catalog evicts and re-encodes every route on every instance change.
    const many: InstanceSpec[] = [];
    for (let s = 0; s < 3_000; s++)
      many.push({ service: `svc-${s}`, id: 'a', version: 'v1', address: '10.1.0.1:80' });
    const before = translateForGrpc(catalogOf(many));
    const after = translateForGrpc(
      catalogOf([...many, { service: 'svc-0', id: 'b', version: 'v1', address: '10.1.0.2:80' }], {}, 2),
    );
    for (const name of ['svc-0', 'svc-1', 'svc-2999'])
      assert.equal(after.byType.get(ROUTE)!.get(name), before.byType.get(ROUTE)!.get(name), name);
    assert.notEqual(after.byType.get(ENDPOINT)!.get('svc-0'), before.byType.get(ENDPOINT)!.get('svc-0'));
  });
});

describe('the grpc-c-core flavour', () => {
  it('gets retries but no route timeouts, and shares every resource that has none', () => {
    const catalog = catalogOf(
      [...TWO_VERSIONS, { service: 'other', id: 'o', version: 'v1', address: '10.0.9.1:80' }],
      { app: CALL_POLICY },
    );
    const full = translateFor('grpc', catalog);
    const core = translateFor('grpc-c-core', catalog);
    const routes = (set: ResourceSet): string => JSON.stringify(dump(set));
    assert.match(routes(full), /max_stream_duration/);
    assert.doesNotMatch(routes(core), /max_stream_duration/);
    assert.match(routes(core), /retry_policy/);
    // Resources without timeouts are the very same objects (translated once for both).
    assert.equal(core.byType.get(ROUTE)!.get('other'), full.byType.get(ROUTE)!.get('other'));
    assert.equal(core.byType.get(CLUSTER)!.get('app'), full.byType.get(CLUSTER)!.get('app'));
  });
});

describe('the grpc-no-ring-hash flavour', () => {
  it('serves ring_hash services as round robin and shares every other translation', () => {
    const catalog = catalogOf(
      [...TWO_VERSIONS, { service: 'sticky', id: 's', version: 'v1', address: '10.0.5.1:80' }],
      { sticky: { lbPolicy: 'ring_hash', hashHeader: 'x-user' } },
    );
    const full = translateFor('grpc', catalog);
    const safe = translateFor('grpc-no-ring-hash', catalog);
    const lb = (set: ResourceSet, name: string): string =>
      (set.byType.get(CLUSTER)!.get(name)!.message as { lb_policy: string }).lb_policy;
    assert.equal(lb(full, 'sticky'), 'RING_HASH');
    assert.equal(lb(safe, 'sticky'), 'ROUND_ROBIN');
    const route = decodeToJson(
      ROUTE.messageName,
      encodeResource(safe.byType.get(ROUTE)!.get('sticky')!).bytes,
    );
    assert.doesNotMatch(JSON.stringify(route), /hash_policy/);
    assert.equal(safe.byType.get(ROUTE)!.get('app'), full.byType.get(ROUTE)!.get('app'));
    assert.equal(safe.flavour, 'grpc-no-ring-hash');
  });
});

describe('the grpc-least-request flavour', () => {
  it('serves least_request services as LEAST_REQUEST and shares every other translation', () => {
    const catalog = catalogOf(
      [...TWO_VERSIONS, { service: 'busy', id: 'b', version: 'v1', address: '10.0.6.1:80' }],
      { busy: { lbPolicy: 'least_request', timeout: '2s' } },
    );
    const plain = translateFor('grpc', catalog);
    const capable = translateFor('grpc-least-request', catalog);
    const lb = (set: ResourceSet, name: string): string =>
      (set.byType.get(CLUSTER)!.get(name)!.message as { lb_policy: string }).lb_policy;
    for (const name of ['busy', 'busy/v1']) {
      assert.equal(lb(capable, name), 'LEAST_REQUEST');
      assert.equal(lb(plain, name), 'ROUND_ROBIN');
    }
    // No least_request_lb_config: clients assume choice_count 2 (gRFC A48), as Envoy does.
    assert.doesNotMatch(JSON.stringify(dump(capable)), /least_request_lb_config/);
    // Everything else is the very same object: only the clusters differ, and only busy's.
    assert.equal(capable.byType.get(CLUSTER)!.get('app'), plain.byType.get(CLUSTER)!.get('app'));
    assert.equal(capable.byType.get(ROUTE)!.get('busy'), plain.byType.get(ROUTE)!.get('busy'));
    assert.equal(capable.byType.get(ENDPOINT)!.get('busy'), plain.byType.get(ENDPOINT)!.get('busy'));
    assert.equal(capable.flavour, 'grpc-least-request');
  });

  it('a C-core client gets neither least request nor route timeouts', () => {
    const catalog = catalogOf(TWO_VERSIONS, { app: { lbPolicy: 'least_request', timeout: '2s' } });
    const core = translateFor('grpc-c-core', catalog);
    for (const cluster of core.byType.get(CLUSTER)!.values())
      assert.equal((cluster.message as { lb_policy: string }).lb_policy, 'ROUND_ROBIN');
    assert.doesNotMatch(JSON.stringify(dump(core)), /max_stream_duration/);
  });
});
