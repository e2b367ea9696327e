import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeResource } from '../../../src/cache/encoded-resource';
import { AliasEncodings, diffSnapshots, Snapshot } from '../../../src/cache/snapshot';
import { decodeToJson, messageType } from '../../../src/proto/proto-root';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../../src/proto/xds-types';
import { translateForGrpc } from '../../../src/translate/grpc/translate';
import { catalogOf, type InstanceSpec } from '../fixtures';

const BASE: InstanceSpec[] = [
  { id: 'a', version: 'v1', address: '10.0.0.1:80' },
  { id: 'b', version: 'v2', address: '10.0.0.2:80' },
  { service: 'other', id: 'o', version: 'v1', address: '10.0.9.1:80' },
];

const snapshotOf = (instances: InstanceSpec[], policies: Record<string, object> = {}): Snapshot =>
  Snapshot.encode(translateForGrpc(catalogOf(instances, policies)), new AliasEncodings());

describe('encodeResource', () => {
  it('encodes a resource object once and versions it by content', () => {
    const set = translateForGrpc(catalogOf(BASE));
    const route = set.byType.get(ROUTE)!.get('app')!;
    const first = encodeResource(route);
    assert.equal(encodeResource(route), first);
    assert.match(first.version, /^[0-9a-f]{16}$/);
    // Same content, different object: same version.
    const again = encodeResource({ name: route.name, type: route.type, message: route.message });
    assert.notEqual(again, first);
    assert.equal(again.version, first.version);
  });

  it('wraps the resource in an Any carrying its type URL', () => {
    const set = translateForGrpc(catalogOf(BASE));
    const encoded = encodeResource(set.byType.get(CLUSTER)!.get('app/v1')!);
    const any = decodeToJson('google.protobuf.Any', encoded.any) as { '@type': string; name: string };
    assert.equal(any['@type'], CLUSTER.typeUrl);
    assert.equal(any.name, 'app/v1');
  });

  it('gives the plain encoding as bytes and the exact Any encoding around it, at every size', () => {
    // 1 to 2,000 endpoints: value lengths with 1-, 2- and 3-byte length varints.
    const instances: InstanceSpec[] = Array.from({ length: 2_000 }, (_, i) => ({
      id: `i${i}`,
      version: i < 1 ? 'v1' : i < 20 ? 'v2' : 'v3',
      address: `10.0.${i >> 8}.${i & 255}:80`,
    }));
    const lengths = new Set<number>();
    const any = messageType('google.protobuf.Any');
    for (const [type, resources] of translateForGrpc(catalogOf(instances)).byType) {
      const message = messageType(type.messageName);
      for (const resource of resources.values()) {
        const encoded = encodeResource(resource);
        const plain = message.encode(message.fromObject(resource.message)).finish();
        assert.deepEqual(Buffer.from(encoded.bytes), Buffer.from(plain));
        const wrapped = any.encode(any.fromObject({ type_url: type.typeUrl, value: plain })).finish();
        assert.deepEqual(Buffer.from(encoded.any), Buffer.from(wrapped));
        lengths.add(plain.length < 128 ? 1 : plain.length < 16_384 ? 2 : 3);
      }
    }
    assert.deepEqual([...lengths].sort(), [1, 2, 3]);
  });
});

describe('diffSnapshots', () => {
  it('reports everything as updated against no previous snapshot', () => {
    const changes = diffSnapshots(undefined, snapshotOf(BASE));
    assert.deepEqual([...changes.get(CLUSTER)!.updated], ['app', 'app/v1', 'app/v2', 'other', 'other/v1']);
    assert.equal(changes.get(CLUSTER)!.removed.size, 0);
  });

  it('reports nothing for an identical catalog', () => {
    assert.equal(diffSnapshots(snapshotOf(BASE), snapshotOf(BASE)).size, 0);
  });

  it('a new instance of an existing version changes only that service’s endpoints', () => {
    const changes = diffSnapshots(
      snapshotOf(BASE),
      snapshotOf([...BASE, { id: 'c', version: 'v1', address: '10.0.0.3:80' }]),
    );
    assert.deepEqual([...changes.keys()], [ENDPOINT]);
    assert.deepEqual([...changes.get(ENDPOINT)!.updated], ['app', 'app/v1']);
  });

  it('a version that disappears removes its cluster and changes the route', () => {
    const changes = diffSnapshots(snapshotOf(BASE), snapshotOf(BASE.filter((i) => i.id !== 'b')));
    assert.deepEqual([...changes.get(CLUSTER)!.removed], ['app/v2']);
    assert.deepEqual([...changes.get(ENDPOINT)!.removed], ['app/v2']);
    assert.deepEqual([...changes.get(ENDPOINT)!.updated], ['app']);
    assert.deepEqual([...changes.get(ROUTE)!.updated], ['app']);
    assert.equal(changes.has(LISTENER), false);
  });

  it('a policy change touches only the route configuration', () => {
    const changes = diffSnapshots(snapshotOf(BASE), snapshotOf(BASE, { app: { defaultVersion: 'v1' } }));
    assert.deepEqual([...changes.keys()], [ROUTE]);
  });
});

describe('Snapshot', () => {
  it('resolves listener aliases to a listener of the requested name', () => {
    const snapshot = snapshotOf(BASE);
    const alias = snapshot.get(LISTENER, 'app:8080');
    assert.equal(alias?.name, 'app:8080');
    assert.equal(snapshot.get(LISTENER, 'app:8080'), alias, 'alias encodings are reused');
    assert.equal(snapshot.get(LISTENER, 'nope:8080'), undefined);
  });

  it('type versions are the same on every replica and change with content', () => {
    assert.equal(snapshotOf(BASE).typeVersion(CLUSTER), snapshotOf([...BASE].reverse()).typeVersion(CLUSTER));
    assert.notEqual(
      snapshotOf(BASE).typeVersion(ENDPOINT),
      snapshotOf([...BASE, { id: 'c', version: 'v1', address: '10.0.0.3:80' }]).typeVersion(ENDPOINT),
    );
  });
});
