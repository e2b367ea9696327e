import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveServeConfig } from '../../../src/cli/config';
import { grpcBootstrap } from '../../../src/cli/bootstrap';

describe('resolveServeConfig', () => {
  it('uses the contract defaults', () => {
    assert.deepEqual(resolveServeConfig({}, {}), {
      etcd: ['http://127.0.0.1:2379'],
      prefix: '/services/',
      policyPrefix: '/xds/policies/',
      host: '0.0.0.0',
      port: 18000,
      adminHost: '127.0.0.1',
      adminPort: 18001,
      debounceMs: 50,
      maxDelayMs: 500,
      logLevel: 'info',
      envoyListener: { host: '0.0.0.0', port: 10000 },
    });
  });

  it('takes flags over environment over defaults', () => {
    const config = resolveServeConfig(
      { port: '19000', etcd: 'http://a:2379, http://b:2379' },
      { ETCD_XDS_PORT: '17000', ETCD_XDS_ADMIN_PORT: '17001', ETCD_XDS_PREFIX: '/reg/' },
    );
    assert.equal(config.port, 19000);
    assert.equal(config.adminPort, 17001);
    assert.equal(config.prefix, '/reg/');
    assert.deepEqual(config.etcd, ['http://a:2379', 'http://b:2379']);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a port out of range', { port: '70000' }, /--port \/ ETCD_XDS_PORT: .*65535/],
    ['a port that is not a number', { adminPort: 'x' }, /--admin-port \/ ETCD_XDS_ADMIN_PORT/],
    [
      'an etcd endpoint that is not a URL',
      { etcd: 'localhost:2379' },
      /--etcd \/ ETCD_XDS_ETCD: must be an http/,
    ],
    [
      'a prefix without a trailing slash',
      { prefix: '/services' },
      /--prefix \/ ETCD_XDS_PREFIX: must end with "\/"/,
    ],
    ['overlapping prefixes', { prefix: '/a/', policyPrefix: '/a/policies/' }, /must not contain one another/],
    ['max delay below debounce', { debounceMs: '100', maxDelayMs: '10' }, /--max-delay-ms.*>= debounceMs/],
    ['an unknown log level', { logLevel: 'loud' }, /--log-level/],
    [
      'an Envoy listener that is not IP:port',
      { envoyListener: 'localhost:10000' },
      /--envoy-listener \/ ETCD_XDS_ENVOY_LISTENER/,
    ],
    ['an Envoy listener on port 0', { envoyListener: '0.0.0.0:0' }, /port must be 1-65535/],
  ];
  for (const [what, flags, message] of bad) {
    it(`rejects ${what} with a message naming the flag and variable`, () => {
      assert.throws(
        () => resolveServeConfig(flags, {}),
        (error: Error & { code?: string }) => error.code === 'EXDS_BAD_CONFIG' && message.test(error.message),
      );
    });
  }
});

describe('grpcBootstrap', () => {
  it('has what grpc-js and C-core require: a server with insecure creds, node id and locality', () => {
    assert.deepEqual(
      grpcBootstrap({ servers: ['10.0.0.1:18000', '10.0.0.2:18000'], nodeId: 'n1', zone: 'z1' }),
      {
        xds_servers: [
          {
            server_uri: '10.0.0.1:18000',
            channel_creds: [{ type: 'insecure' }],
            server_features: ['xds_v3', 'ignore_resource_deletion'],
          },
          {
            server_uri: '10.0.0.2:18000',
            channel_creds: [{ type: 'insecure' }],
            server_features: ['xds_v3', 'ignore_resource_deletion'],
          },
        ],
        node: { id: 'n1', locality: { zone: 'z1' } },
      },
    );
  });
});
