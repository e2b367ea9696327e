import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER, LISTENER, ROUTE } from '../../../src/proto/xds-types';
import { translateForEnvoy } from '../../../src/translate/envoy/translate';
import { CALL_POLICY, CLUSTER_POLICY, catalogOf, type InstanceSpec } from '../fixtures';
import { assertGolden, dump } from './golden';

const LISTENER_ADDRESS = { listener: { host: '0.0.0.0', port: 10000 } };

const INSTANCES: InstanceSpec[] = [
  { id: 'a1', version: 'v1', address: '10.0.0.1:50051', zone: 'z1' },
  { id: 'a2', version: 'v1', address: '10.0.0.2:50051', zone: 'z2', weight: 3 },
  { id: 'b1', version: 'v2', address: '10.0.0.3:50051', zone: 'z1' },
  { service: 'shop', id: 's1', version: 'v1', address: '10.0.1.1:8080' },
];

describe('translateForEnvoy', () => {
  it('golden: two services, one with the contract §4 policy and every matcher kind', () => {
    const policy = {
      defaultVersion: 'v1',
      weights: { v1: 90, v2: 10 },
      routes: [
        { match: { headers: [{ name: 'x-group', exact: 'beta' }] }, version: 'v2' },
        {
          match: {
            headers: [
              { name: 'x-tenant', regex: 't-[0-9]+', invert: true },
              { name: 'x-debug', present: true },
            ],
          },
          version: 'v1',
        },
      ],
      lbPolicy: 'least_request',
    };
    assertGolden(
      'envoy-two-services',
      dump(translateForEnvoy(catalogOf(INSTANCES, { app: policy }), LISTENER_ADDRESS)),
    );
  });

  it("golden: circuit breaking and outlier detection, Envoy's consecutive-error ejection off", () => {
    assertGolden(
      'envoy-cluster-policy',
      dump(translateForEnvoy(catalogOf(INSTANCES, { app: CLUSTER_POLICY }), LISTENER_ADDRESS)),
    );
  });

  it('golden: zone affinity retries failed connections on the next priority, merged with the route retry', () => {
    assertGolden(
      'envoy-zone-failover',
      dump(
        translateForEnvoy(
          catalogOf(INSTANCES, { app: { ...CALL_POLICY, zoneAffinity: true } }),
          LISTENER_ADDRESS,
        ),
      ),
    );
  });

  it('golden: timeouts and retries (contract §8), service-level and per route', () => {
    assertGolden(
      'envoy-call-policy',
      dump(translateForEnvoy(catalogOf(INSTANCES, { app: CALL_POLICY }), LISTENER_ADDRESS)),
    );
  });

  it('names one listener and one route configuration, and the same clusters as gRPC clients get', () => {
    const set = translateForEnvoy(catalogOf(INSTANCES), LISTENER_ADDRESS);
    assert.deepEqual([...set.byType.get(LISTENER)!.keys()], ['etcd-xds']);
    assert.deepEqual([...set.byType.get(ROUTE)!.keys()], ['etcd-xds']);
    assert.deepEqual([...set.byType.get(CLUSTER)!.keys()], ['app', 'app/v1', 'app/v2', 'shop', 'shop/v1']);
  });

  it('reuses the route configuration while no virtual host changed', () => {
    const catalog = catalogOf(INSTANCES);
    const first = translateForEnvoy(catalog, LISTENER_ADDRESS).byType.get(ROUTE)!.get('etcd-xds');
    const second = translateForEnvoy({ ...catalog, revision: 9 }, LISTENER_ADDRESS)
      .byType.get(ROUTE)!
      .get('etcd-xds');
    assert.equal(first, second);
  });

  it('ring hash clusters do not ask Envoy for locality weighting (unsupported with ring hash)', () => {
    const set = translateForEnvoy(
      catalogOf(INSTANCES, { app: { lbPolicy: 'ring_hash', hashHeader: 'x-user' } }),
      LISTENER_ADDRESS,
    );
    const cluster = set.byType.get(CLUSTER)!.get('app')!.message as {
      lb_policy: string;
      common_lb_config?: unknown;
    };
    assert.equal(cluster.lb_policy, 'RING_HASH');
    assert.equal(cluster.common_lb_config, undefined);
  });
});
