import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveServeConfig } from '../../../src/cli/config';
import { grpcBootstrap } from '../../../src/cli/bootstrap';

describe('resolveServeConfig', () => {
  it('uses the contract defaults', () => {
    assert.deepEqual(resolveServeConfig({}, {}), {
      etcd: { endpoints: ['http://127.0.0.1:2379'], tls: undefined, auth: undefined, prefix: '/services/' },
      policyPrefix: '/xds/policies/',
      host: '0.0.0.0',
      port: 18000,
      tls: undefined,
      adminHost: '127.0.0.1',
      adminPort: 18001,
      debounceMs: 50,
      maxDelayMs: 500,
      logLevel: 'info',
      envoyListener: { host: '0.0.0.0', port: 10000 },
      limits: {
        maxConnectionAgeMs: 30 * 60_000,
        maxConnectionAgeGraceMs: 10_000,
        maxConnectionIdleMs: 5 * 60_000,
        maxStreams: 100_000,
        stallTimeoutMs: 5 * 60_000,
      },
      maxAdminRequests: 8,
    });
  });

  it('reads durations in ms, s and m, with decimals', () => {
    const config = resolveServeConfig(
      { maxConnectionAge: '1.5m', maxConnectionIdle: '90s', stallTimeout: '250ms' },
      { ETCD_XDS_MAX_CONNECTION_AGE_GRACE: '2s', ETCD_XDS_MAX_STREAMS: '10' },
    );
    assert.deepEqual(config.limits, {
      maxConnectionAgeMs: 90_000,
      maxConnectionAgeGraceMs: 2_000,
      maxConnectionIdleMs: 90_000,
      maxStreams: 10,
      stallTimeoutMs: 250,
    });
  });

  it('takes flags over environment over defaults', () => {
    const config = resolveServeConfig(
      { port: '19000', etcd: 'http://a:2379, http://b:2379' },
      { ETCD_XDS_PORT: '17000', ETCD_XDS_ADMIN_PORT: '17001', ETCD_XDS_PREFIX: '/reg/' },
    );
    assert.equal(config.port, 19000);
    assert.equal(config.adminPort, 17001);
    assert.equal(config.etcd.prefix, '/reg/');
    assert.deepEqual(config.etcd.endpoints, ['http://a:2379', 'http://b:2379']);
  });

  it('takes TLS and etcd credentials, the password from the environment or a file only', () => {
    const config = resolveServeConfig(
      {
        tlsCert: 'server.pem',
        tlsKey: 'server.key',
        tlsClientCa: 'ca.pem',
        etcd: 'https://etcd:2379',
        etcdCa: 'etcd-ca.pem',
        etcdUsername: 'xds',
      },
      { ETCD_XDS_ETCD_PASSWORD: 's3cret' },
    );
    assert.deepEqual(config.tls, { cert: 'server.pem', key: 'server.key', clientCa: 'ca.pem' });
    assert.deepEqual(config.etcd.tls, { ca: 'etcd-ca.pem', cert: undefined, key: undefined });
    assert.deepEqual(config.etcd.auth, { username: 'xds', password: 's3cret' });
    const fromFile = resolveServeConfig(
      { etcdUsername: 'xds', etcdPasswordFile: '/run/secrets/pw' },
      {},
      (path) => (path === '/run/secrets/pw' ? 'from-file\n' : ''),
    );
    assert.deepEqual(fromFile.etcd.auth, { username: 'xds', password: 'from-file' });
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
      'a TLS certificate without its key',
      { tlsCert: 'a.pem' },
      /--tls-cert \/ ETCD_XDS_TLS_CERT: needs --tls-key/,
    ],
    [
      'a client CA without a server certificate',
      { tlsClientCa: 'ca.pem' },
      /--tls-client-ca.*needs --tls-cert and --tls-key/,
    ],
    [
      'an etcd certificate without its key',
      { etcd: 'https://e:2379', etcdCert: 'c.pem' },
      /--etcd-cert.*needs --etcd-key/,
    ],
    [
      'etcd TLS settings with http:// endpoints',
      { etcdCa: 'ca.pem' },
      /--etcd \/ ETCD_XDS_ETCD: TLS settings for etcd need https:\/\/ endpoints/,
    ],
    [
      'a mix of http:// and https:// etcd endpoints',
      { etcd: 'https://a:2379,http://b:2379' },
      /use https:\/\/ for every endpoint or for none/,
    ],
    [
      'an etcd user without a password',
      { etcdUsername: 'xds' },
      /needs a password: ETCD_XDS_ETCD_PASSWORD or --etcd-password-file/,
    ],
    ['an etcd password without a user', { etcdPasswordFile: '/pw' }, /a password was given without a user/],
    [
      'an Envoy listener that is not IP:port',
      { envoyListener: 'localhost:10000' },
      /--envoy-listener \/ ETCD_XDS_ENVOY_LISTENER/,
    ],
    ['an Envoy listener on port 0', { envoyListener: '0.0.0.0:0' }, /port must be 1-65535/],
    [
      'a duration without a unit',
      { maxConnectionAge: '30' },
      /--max-connection-age \/ ETCD_XDS_MAX_CONNECTION_AGE: must be a duration such as "250ms", "1.5s", "30m"/,
    ],
    [
      'a duration in hours',
      { maxConnectionIdle: '1h' },
      /--max-connection-idle \/ ETCD_XDS_MAX_CONNECTION_IDLE/,
    ],
    [
      'a zero duration',
      { stallTimeout: '0s' },
      /--stall-timeout \/ ETCD_XDS_STALL_TIMEOUT: must be between 1ms and/,
    ],
    ['a duration over a day', { maxConnectionAgeGrace: '1441m' }, /--max-connection-age-grace.*1440m/],
    ['no stream allowed', { maxStreams: '0' }, /--max-streams \/ ETCD_XDS_MAX_STREAMS/],
    ['more streams than the limit allows', { maxStreams: '10000001' }, /--max-streams/],
    ['a fractional stream count', { maxStreams: '1.5' }, /--max-streams/],
    [
      'no admin request allowed',
      { maxAdminRequests: '0' },
      /--max-admin-requests \/ ETCD_XDS_MAX_ADMIN_REQUESTS/,
    ],
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
