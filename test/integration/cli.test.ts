// The built command line (`npm run build` output, as `bin` in package.json points to it).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, runCli } from '../../testkit/run-cli';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};
const BIN = path.join(ROOT, pkg.bin['etcd-xds']);

describe('the etcd-xds binary', () => {
  it('is built where package.json says', () => {
    assert.ok(fs.existsSync(BIN), `${BIN} is missing: run "npm run build"`);
  });

  it('prints help listing serve, bootstrap and register', async () => {
    const { stdout } = await runCli(['--help'], BIN);
    for (const command of ['serve', 'bootstrap', 'register'])
      assert.match(stdout, new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it('prints its version', async () => {
    const { stdout } = await runCli(['--version'], BIN);
    assert.equal(stdout.trim(), pkg.version);
  });

  it('serve --help documents every flag with its environment variable and default', async () => {
    const { stdout } = await runCli(['serve', '--help'], BIN);
    for (const [flag, env] of [
      ['--etcd', 'ETCD_XDS_ETCD'],
      ['--prefix', 'ETCD_XDS_PREFIX'],
      ['--policy-prefix', 'ETCD_XDS_POLICY_PREFIX'],
      ['--host', 'ETCD_XDS_HOST'],
      ['--port', 'ETCD_XDS_PORT'],
      ['--admin-host', 'ETCD_XDS_ADMIN_HOST'],
      ['--admin-port', 'ETCD_XDS_ADMIN_PORT'],
    ]) {
      assert.match(stdout, new RegExp(`${flag} <`), flag);
      assert.match(stdout.replace(/\s+/g, ' '), new RegExp(env), env);
    }
  });

  it('bootstrap prints a gRPC xDS bootstrap for the given servers and node', async () => {
    const { stdout } = await runCli(
      ['bootstrap', '--server', 'xds-a:18000,xds-b:18000', '--node-id', 'checkout-1', '--zone', 'z2'],
      BIN,
    );
    const bootstrap = JSON.parse(stdout) as {
      xds_servers: { server_uri: string; channel_creds: { type: string }[] }[];
      node: { id: string; locality: { zone: string } };
    };
    assert.deepEqual(
      bootstrap.xds_servers.map((s) => s.server_uri),
      ['xds-a:18000', 'xds-b:18000'],
    );
    assert.deepEqual(bootstrap.xds_servers[0].channel_creds, [{ type: 'insecure' }]);
    assert.deepEqual(bootstrap.node, { id: 'checkout-1', locality: { zone: 'z2' } });
  });

  it('bootstrap --tls-ca/--tls-cert/--tls-key gives TLS channel creds with those files (gRFC A65)', async () => {
    const { stdout } = await runCli(
      [
        'bootstrap',
        '--server',
        'xds:18000',
        '--tls-ca',
        '/ca.pem',
        '--tls-cert',
        '/c.pem',
        '--tls-key',
        '/c.key',
      ],
      BIN,
    );
    const bootstrap = JSON.parse(stdout) as { xds_servers: { channel_creds: object[] }[] };
    assert.deepEqual(bootstrap.xds_servers[0].channel_creds, [
      {
        type: 'tls',
        config: { ca_certificate_file: '/ca.pem', certificate_file: '/c.pem', private_key_file: '/c.key' },
      },
    ]);
    for (const [args, message] of [
      [['--tls-cert', '/c.pem'], /--tls-cert and --tls-key go together/],
      [['--tls-cert', '/c.pem', '--tls-key', '/c.key'], /--tls-cert needs --tls-ca/],
    ] as const) {
      const result = await runCli(['bootstrap', '--server', 'xds:18000', ...args], BIN);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
    }
  });

  it('bootstrap --service/--version/--label write caller labels into node.metadata, for gRPC and Envoy', async () => {
    const args = [
      '--server',
      'xds:18000',
      '--service',
      'app',
      '--version',
      'v2',
      '--label',
      'team=pay',
      '--label',
      'note=a=b c',
    ];
    const grpc = JSON.parse((await runCli(['bootstrap', ...args, '--zone', 'z1'], BIN)).stdout) as {
      node: { metadata: Record<string, string>; locality: object };
    };
    assert.deepEqual(grpc.node.metadata, { service: 'app', version: 'v2', team: 'pay', note: 'a=b c' });
    assert.deepEqual(grpc.node.locality, { zone: 'z1' });
    const envoy = JSON.parse((await runCli(['bootstrap', '--envoy', ...args], BIN)).stdout) as {
      node: { metadata: Record<string, string> };
    };
    assert.deepEqual(envoy.node.metadata, grpc.node.metadata);
    const none = JSON.parse((await runCli(['bootstrap', '--server', 'xds:18000'], BIN)).stdout) as {
      node: object;
    };
    assert.ok(!('metadata' in none.node), 'no labels, no metadata');
  });

  it('bootstrap refuses a bad label with exit 2, naming the label', async () => {
    for (const [args, message] of [
      [['--label', 'nokey'], /--label "nokey": must be KEY=VALUE/],
      [['--label', '=v'], /label key "" must be 1-63 characters/],
      [['--label', `${'k'.repeat(64)}=v`], /label key "k{64}" must be 1-63 characters/],
      [['--label', 'a b=v'], /label key "a b"/],
      [['--label', 'k=é'], /label "k": value "é" must be 0-253 printable ASCII/],
      [['--label', `k=${'v'.repeat(254)}`], /label "k": value/],
      [['--version', 'v\t1'], /--version: label "version": value/],
      [['--service', 'app', '--label', 'service=other'], /label "service" is given twice/],
      [['--label', 'k=1', '--label', 'k=2'], /label "k" is given twice/],
    ] as const) {
      const result = await runCli(['bootstrap', '--server', 'xds:18000', ...args], BIN);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, message);
    }
  });

  it('bootstrap refuses a server that is not host:port', async () => {
    const result = await runCli(['bootstrap', '--server', 'http://x'], BIN);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--server: "http:\/\/x" is not host:port/);
  });
});
