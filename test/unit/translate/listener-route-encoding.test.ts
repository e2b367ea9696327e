// Listeners and route configurations are encoded as built, without fromObject
// (cache/encoded-resource.ts): for every shape the translation makes — every route kind (header
// matches of each form, inverted; methods; weights; caller routes; timeouts and retries; faults for
// versions that do not exist), every flavour, with and without caller labels — the bytes must be
// those of the fromObject path. (Clusters carry enum names and keep fromObject: checked too, so
// this test notices if that changes.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageType } from '../../../src/proto/proto-root';
import { CLUSTER, LISTENER, ROUTE, type XdsType } from '../../../src/proto/xds-types';
import { translateFor, type Flavour } from '../../../src/translate/flavours';
import { viewOf } from '../../../src/translate/view';
import { CALL_POLICY, CLUSTER_POLICY, catalogOf, type InstanceSpec } from '../fixtures';

const POLICIES: Record<string, object> = {
  call: CALL_POLICY,
  cluster: CLUSTER_POLICY,
  weights: {
    weights: { v1: 30, v2: 70 },
    header: 'x-ver',
    onUnknownVersion: 'default',
    defaultVersion: 'v1',
  },
  ring: { lbPolicy: 'ring_hash', hashHeader: 'x-user' },
  least: { lbPolicy: 'least_request' },
  zone: { zoneAffinity: true },
  routes: {
    routes: [
      {
        match: {
          headers: [
            { name: 'x-a', exact: 'b', invert: true },
            { name: 'x-p', prefix: 'p' },
            { name: 'x-r', regex: 'a.*b' },
            { name: 'x-q', present: false },
          ],
        },
        version: 'v2',
      },
      { match: { method: { prefix: '/pkg.S/' } }, weights: { v1: 1, v2: 3 } },
      { match: { method: { regex: '/pkg\\.S/M.*' } }, version: 'v1', timeout: '1.5s' },
      { match: { method: { exact: '/pkg.S/Gone' } }, version: 'v9' },
      { match: { caller: { service: 'app' } }, version: 'v2' },
    ],
  },
};
const INSTANCES: InstanceSpec[] = Object.keys(POLICIES).flatMap((service) => [
  { service, id: `${service}-1`, version: 'v1', address: '10.0.1.1:80', zone: 'z1' },
  { service, id: `${service}-2`, version: 'v2', address: '10.0.1.2:80', zone: 'z2', weight: 3 },
]);
const FLAVOURS: Flavour[] = ['grpc', 'grpc-least-request', 'grpc-c-core', 'grpc-no-ring-hash', 'envoy'];

function sameBytes(type: XdsType, message: object): boolean {
  const codec = messageType(type.messageName);
  const direct = Buffer.from(codec.encode(message as never).finish());
  return direct.equals(Buffer.from(codec.encode(codec.fromObject(message)).finish()));
}

describe('listener and route configuration encoding without fromObject', () => {
  const catalog = catalogOf(INSTANCES, POLICIES);
  for (const flavour of FLAVOURS) {
    for (const labels of [
      new Map<string, string>(),
      new Map([
        ['service', 'app'],
        ['zone', 'z1'],
      ]),
    ]) {
      it(`${flavour}${labels.size > 0 ? ', caller service=app zone=z1' : ''}: same bytes as through fromObject`, () => {
        const set = translateFor(viewOf({ flavour, labels }, catalog), catalog);
        for (const type of [LISTENER, ROUTE]) {
          const resources = [...(set.byType.get(type)?.values() ?? [])];
          assert.ok(resources.length >= 1, `${type.short}: ${resources.length}`);
          for (const { name, message } of resources)
            assert.ok(sameBytes(type, message), `${flavour} ${type.short} ${name} differs`);
        }
        // Clusters do need fromObject (enum names): if that ever stops being so, this says it.
        const clusters = [...set.byType.get(CLUSTER)!.values()];
        assert.ok(clusters.some(({ message }) => !sameBytes(CLUSTER, message)));
      });
    }
  }
});
