// Property-based tests over what users and clients can send: registration and policy values,
// whole catalogs, and discovery requests. Nothing may throw; everything rejected says why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AliasEncodings, diffSnapshots, Snapshot } from '../../../src/cache/snapshot';
import { encodeResource } from '../../../src/cache/encoded-resource';
import { PUSH_ORDER, TYPE_URL_PREFIX } from '../../../src/proto/xds-types';
import { CatalogBuilder } from '../../../src/registry/catalog';
import { parseInstance } from '../../../src/registry/instance';
import { parsePolicy } from '../../../src/registry/policy';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest } from '../../../src/server/ads-service';
import { DeltaStreamState } from '../../../src/server/delta-stream-state';
import { StreamState } from '../../../src/server/stream-state';
import { FLAVOURS, translateFor } from '../../../src/translate/flavours';
import { planRoutes } from '../../../src/translate/route-plan';

import { policyLike, registrationLike, validPolicy, validRegistration } from './arbitraries';

const RUNS = { numRuns: 300 };

function assertExplained(
  result: { ok: boolean; problem?: { code: string; subject: string; message: string } },
  code: string,
  key: string,
): void {
  if (result.ok) return;
  assert.equal(result.problem?.code, code);
  assert.equal(result.problem?.subject, key);
  assert.ok((result.problem?.message.length ?? 0) > 0);
}

describe('bad input, property-based', () => {
  it('parseInstance never throws and explains every rejection', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          validRegistration.map((v) => JSON.stringify(v)),
          fc
            .tuple(registrationLike, fc.boolean())
            .map(([v, envelope]) => JSON.stringify(envelope ? { node: v, ttl: 5 } : v)),
          fc.string(),
          fc.uint8Array(),
        ),
        (value) => {
          assertExplained(parseInstance('/services/k', value), 'EXDS_BAD_REGISTRATION', '/services/k');
        },
      ),
      RUNS,
    );
  });

  it('parsePolicy never throws; every accepted policy plans, translates and encodes for every flavour', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          { arbitrary: validPolicy.map((v) => JSON.stringify(v)), weight: 3 },
          { arbitrary: policyLike.map((v) => JSON.stringify(v)), weight: 1 },
          { arbitrary: fc.string(), weight: 1 },
        ),
        (value) => {
          const parsed = parsePolicy('/xds/policies/app', value);
          assertExplained(parsed, 'EXDS_BAD_POLICY', '/xds/policies/app');
          if (!parsed.ok) return;
          const builder = new CatalogBuilder('/xds/policies/');
          builder.putRegistration('/services/app/1', '{"name":"app","version":"v1","address":"10.0.0.1:80"}');
          builder.putRegistration('/services/app/2', '{"name":"app","version":"v2","address":"10.0.0.2:80"}');
          builder.putPolicy('/xds/policies/app', value);
          const catalog = builder.snapshot(1);
          for (const route of planRoutes(catalog.services.get('app')!).routes) {
            if (route.action.kind === 'weighted') {
              assert.equal(
                route.action.clusters.reduce((sum, c) => sum + c.weight, 0),
                100,
              );
            }
          }
          for (const flavour of FLAVOURS) {
            for (const resources of translateFor(flavour, catalog).byType.values()) {
              for (const resource of resources.values()) encodeResource(resource);
            }
          }
        },
      ),
      RUNS,
    );
  });

  it('any catalog translates to the same bytes whatever order etcd delivered it in', () => {
    const entry = fc.tuple(
      fc.constantFrom('/services/a/', '/services/b/', '/xds/policies/'),
      fc.stringMatching(/^[a-z0-9]{1,6}$/),
      fc.oneof(
        validRegistration.map((v) => JSON.stringify(v)),
        validPolicy.map((v) => JSON.stringify(v)),
        registrationLike.map((v) => JSON.stringify(v)),
        policyLike.map((v) => JSON.stringify(v)),
      ),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { maxLength: 12, selector: ([prefix, key]) => prefix + key }),
        (entries) => {
          const build = (ordered: typeof entries): Snapshot[] => {
            const builder = new CatalogBuilder('/xds/policies/');
            for (const [prefix, key, value] of ordered) {
              if (prefix === '/xds/policies/') builder.putPolicy(prefix + key, value);
              else builder.putRegistration(prefix + key, value);
            }
            const catalog = builder.snapshot(1);
            return FLAVOURS.map((flavour) =>
              Snapshot.encode(translateFor(flavour, catalog), new AliasEncodings()),
            );
          };
          const forward = build(entries);
          const backward = build([...entries].reverse());
          for (const [i, snapshot] of forward.entries()) {
            assert.equal(diffSnapshots(snapshot, backward[i]).size, 0);
            for (const type of PUSH_ORDER)
              assert.equal(snapshot.typeVersion(type), backward[i].typeVersion(type));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('request decoders either decode or throw an Error, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const decode of [decodeDiscoveryRequest, decodeDeltaDiscoveryRequest]) {
          try {
            const request = decode(Buffer.from(bytes));
            assert.equal(typeof request.type_url, 'string');
          } catch (error) {
            assert.ok(error instanceof Error);
          }
        }
      }),
      RUNS,
    );
  });

  const typeUrl = fc.oneof(
    fc.constantFrom(...PUSH_ORDER.map((t) => t.typeUrl)),
    fc.constant(`${TYPE_URL_PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`),
    fc.string(),
  );
  const names = fc.array(fc.oneof(fc.constantFrom('app', 'app/v1', 'app:80', '*', 'nope'), fc.string()), {
    maxLength: 6,
  });
  const snapshot = Snapshot.encode(
    translateFor(
      'grpc',
      (() => {
        const builder = new CatalogBuilder('/xds/policies/');
        builder.putRegistration('/services/app/1', '{"name":"app","version":"v1","address":"10.0.0.1:80"}');
        return builder.snapshot(1);
      })(),
    ),
    new AliasEncodings(),
  );

  it('the state-of-the-world state machine never throws, and never reuses a nonce', () => {
    const request = fc.record({
      type_url: typeUrl,
      resource_names: names,
      nonce: fc.oneof(fc.constant(''), fc.nat(20).map(String)),
      nack: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(request, { maxLength: 25 }), (requests) => {
        const stream = new StreamState(1, 'peer', 0);
        const nonces = new Set<string>();
        for (const r of requests) {
          const result = stream.handleRequest(
            {
              version_info: '',
              node: null,
              resource_names: r.resource_names,
              type_url: r.type_url,
              response_nonce: r.nonce,
              error_detail: r.nack ? { code: 3, message: 'x', details: [] } : null,
              resource_locators: [],
            },
            snapshot,
          );
          if (result.response) {
            assert.ok(!nonces.has(result.response.nonce));
            nonces.add(result.response.nonce);
            assert.equal(result.response.type.typeUrl, r.type_url);
          }
          if (result.outcome === 'stale' || result.outcome === 'unknown-type')
            assert.equal(result.response, undefined);
        }
      }),
      RUNS,
    );
  });

  it('the delta state machine never throws, and never reuses a nonce', () => {
    const request = fc.record({
      type_url: typeUrl,
      subscribe: names,
      unsubscribe: names,
      initial: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
      nonce: fc.oneof(fc.constant(''), fc.nat(20).map(String)),
      nack: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(request, { maxLength: 25 }), (requests) => {
        const stream = new DeltaStreamState(1, 'peer', 0);
        const nonces = new Set<string>();
        for (const r of requests) {
          const result = stream.handleRequest(
            {
              node: null,
              type_url: r.type_url,
              resource_names_subscribe: r.subscribe,
              resource_names_unsubscribe: r.unsubscribe,
              initial_resource_versions: r.initial,
              response_nonce: r.nonce,
              error_detail: r.nack ? { code: 3, message: 'x', details: [] } : null,
              resource_locators_subscribe: [],
              resource_locators_unsubscribe: [],
            },
            snapshot,
          );
          if (result.response) {
            assert.ok(!nonces.has(result.response.nonce));
            nonces.add(result.response.nonce);
          }
        }
      }),
      RUNS,
    );
  });
});
