import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageType } from '../../../src/proto/proto-root';
import { ENDPOINT } from '../../../src/proto/xds-types';
import { translateFor, type Flavour } from '../../../src/translate/flavours';
import { viewOf } from '../../../src/translate/view';
import { catalogOf, random, type InstanceSpec } from '../fixtures';
import {
  encodeGrpcClusterLoadAssignment,
  grpcClusterLoadAssignment,
} from '../../../src/translate/grpc/cluster-load-assignment';

// Endpoints are encoded without fromObject (translate/endpoint-encoding.ts): for every shape the
// builders make (zones, weights, draining, ring hash, zone priorities; gRPC and Envoy), the bytes
// must be those of the fromObject path.
const INSTANCES: InstanceSpec[] = [
  { id: 'a', version: 'v1', address: '10.0.1.1:80', zone: 'z1' },
  { id: 'b', version: 'v1', address: '10.0.1.2:80', zone: 'z1', weight: 3 },
  { id: 'c', version: 'v2', address: '10.0.2.1:80', zone: 'z2', status: 'draining' },
  { id: 'd', version: 'v2', address: '[2001:db8::1]:8080' },
  { service: 'sticky', id: 's1', version: 'v1', address: '10.0.3.1:80', weight: 2, zone: 'z2' },
  { service: 'sticky', id: 's2', version: 'v1', address: '10.0.3.2:80', status: 'draining' },
  { service: 'near', id: 'n1', version: 'v1', address: '10.0.4.1:80', zone: 'z1' },
  { service: 'near', id: 'n2', version: 'v1', address: '10.0.4.2:80', zone: 'z2', status: 'draining' },
];
const POLICIES = { sticky: { lbPolicy: 'ring_hash', hashHeader: 'x-user' }, near: { zoneAffinity: true } };

describe('endpoint encoding without fromObject', () => {
  const type = messageType(ENDPOINT.messageName);
  const catalog = catalogOf(INSTANCES, POLICIES);
  const flavours: Flavour[] = ['grpc', 'grpc-no-ring-hash', 'envoy'];
  for (const flavour of flavours) {
    for (const zone of [undefined, 'z1', 'z2']) {
      it(`${flavour}${zone === undefined ? '' : `, caller in ${zone}`}: same bytes as through fromObject`, () => {
        const labels = new Map(zone === undefined ? [] : [['zone', zone]]);
        const set = translateFor(viewOf({ flavour, labels }, catalog), catalog);
        const endpoints = [...set.byType.get(ENDPOINT)!.values()];
        assert.ok(endpoints.length >= 7, `${endpoints.length} endpoints`);
        for (const { name, message } of endpoints) {
          const direct = Buffer.from(type.encode(message as never).finish());
          const converted = Buffer.from(type.encode(type.fromObject(message)).finish());
          assert.ok(
            direct.equals(converted),
            `${name}: ${direct.toString('hex')} != ${converted.toString('hex')}`,
          );
        }
        // Draining instances are in there, encoded as HealthStatus DRAINING.
        assert.ok(
          endpoints.some((e) =>
            JSON.stringify(
              type.toObject(type.decode(type.encode(e.message).finish()), { enums: String }),
            ).includes('DRAINING'),
          ),
        );
      });
    }
  }
});

describe('encodeGrpcClusterLoadAssignment', () => {
  const type = messageType(ENDPOINT.messageName);
  const zones = ['', 'z1', 'z2', 'zône-é'];
  const addresses = (i: number, next: () => number): string =>
    next() < 0.2
      ? `[2001:db8::${i.toString(16)}]:${1 + Math.floor(next() * 65_535)}`
      : `10.${i >> 8}.${i & 255}.${1 + (i % 250)}:${1 + Math.floor(next() * 65_535)}`;

  it('writes the bytes protobufjs writes for the message, for random clusters of every shape', () => {
    const next = random(17);
    for (let round = 0; round < 300; round++) {
      const count = Math.floor(next() * 40);
      const specs: InstanceSpec[] = Array.from({ length: count }, (_, i) => ({
        id: `i${i}`,
        version: 'v1',
        address: addresses(i + round * 64, next),
        zone: zones[Math.floor(next() * zones.length)],
        weight: next() < 0.3 ? 1 + Math.floor(next() * 300) : 1,
        status: next() < 0.2 ? 'draining' : 'serving',
      }));
      const instances = count === 0 ? [] : catalogOf(specs).services.get('app')!.instances;
      const name = round % 7 === 0 ? `cluster-${'é'.repeat(round % 5)}` : `app/v${round}`;
      for (const lbPolicy of ['round_robin', 'ring_hash', 'least_request'] as const) {
        for (const zone of [undefined, 'z1', 'zône-é']) {
          const expected = Buffer.from(
            type.encode(grpcClusterLoadAssignment(name, instances, lbPolicy, zone) as never).finish(),
          );
          const actual = Buffer.from(encodeGrpcClusterLoadAssignment(name, instances, lbPolicy, zone));
          assert.ok(
            actual.equals(expected),
            `round ${round} ${lbPolicy} ${zone}: ${actual.toString('hex')} != ${expected.toString('hex')}`,
          );
        }
      }
    }
  });
});
