import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AliasEncodings, Snapshot } from '../../../src/cache/snapshot';
import { CLUSTER } from '../../../src/proto/xds-types';
import {
  CONTROL_PLANE_ID,
  decodeDiscoveryRequest,
  decodeDiscoveryResponse,
  encodeDiscoveryRequest,
  encodeDiscoveryResponse,
} from '../../../src/server/ads-service';
import { translateForGrpc } from '../../../src/translate/grpc/translate';
import { catalogOf } from '../fixtures';

describe('DiscoveryResponse encoding', () => {
  it('writes the shared Any bytes so that a standard decoder reads the same response', () => {
    const snapshot = Snapshot.encode(
      translateForGrpc(catalogOf([{ id: 'a', version: 'v1', address: '10.0.0.1:80' }])),
      new AliasEncodings(),
    );
    const resources = [...snapshot.all(CLUSTER)];
    const bytes = encodeDiscoveryResponse({ type: CLUSTER, versionInfo: 'abc', nonce: '7', resources });
    const decoded = decodeDiscoveryResponse(bytes);
    assert.equal(decoded.version_info, 'abc');
    assert.equal(decoded.nonce, '7');
    assert.equal(decoded.type_url, CLUSTER.typeUrl);
    assert.equal(decoded.control_plane?.identifier, CONTROL_PLANE_ID);
    assert.deepEqual(
      decoded.resources.map((any) => [
        any.type_url,
        Buffer.from(any.value).equals(Buffer.from(resources[0].bytes)),
      ]),
      [
        [CLUSTER.typeUrl, true],
        [CLUSTER.typeUrl, false],
      ],
    );
  });

  it('round-trips a DiscoveryRequest', () => {
    const bytes = encodeDiscoveryRequest({
      type_url: CLUSTER.typeUrl,
      resource_names: ['a', 'b'],
      response_nonce: '3',
      error_detail: { code: 3, message: 'no' },
    });
    const decoded = decodeDiscoveryRequest(bytes);
    assert.deepEqual(decoded.resource_names, ['a', 'b']);
    assert.equal(decoded.error_detail?.message, 'no');
    assert.equal(decoded.node, null);
  });

  it('throws on a truncated message or an invalid tag (grpc-js then fails the call, not the server)', () => {
    assert.throws(() => decodeDiscoveryRequest(Buffer.from([0x12, 0x03, 0x0a])), /index out of range/);
    assert.throws(() => decodeDiscoveryRequest(Buffer.from([0xff])), /index out of range/);
  });
});
