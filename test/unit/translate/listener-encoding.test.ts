import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageType } from '../../../src/proto/proto-root';
import { LISTENER } from '../../../src/proto/xds-types';
import { encodeGrpcListener, grpcListener } from '../../../src/translate/grpc/listener';
import { random } from '../fixtures';

// gRPC listeners are written directly (encodeGrpcListener); the bytes must be protobufjs's for the
// message grpcListener builds, for short and long names (one- and two-byte lengths) and non-ASCII.
describe('gRPC listener encoding without protobufjs', () => {
  const type = messageType(LISTENER.messageName);
  const viaProtobufjs = (name: string, service: string): Buffer =>
    Buffer.from(type.encode(type.fromObject(grpcListener(name, service))).finish());

  it('gives the bytes protobufjs gives, over 500 random names', () => {
    const next = random(13);
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-._é日';
    for (let i = 0; i < 500; i++) {
      const length = 1 + Math.floor(next() * (i % 5 === 0 ? 300 : 40));
      let service = '';
      for (let c = 0; c < length; c++) service += alphabet[Math.floor(next() * alphabet.length)];
      const name = i % 3 === 0 ? `${service}:${1 + Math.floor(next() * 65535)}` : service;
      assert.deepEqual(Buffer.from(encodeGrpcListener(name, service)), viaProtobufjs(name, service), name);
    }
  });

  it('decodes to the listener of the service', () => {
    const decoded = type.toObject(type.decode(encodeGrpcListener('user:50051', 'user'))) as {
      name: string;
      api_listener: { api_listener: { type_url: string } };
    };
    assert.equal(decoded.name, 'user:50051');
    assert.match(decoded.api_listener.api_listener.type_url, /HttpConnectionManager$/);
  });
});
