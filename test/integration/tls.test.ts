// Every channel secured: the xDS listener with TLS and mutual TLS (real clients that support TLS
// xDS credentials, and clients that must be refused), and etcd with TLS, client certificates and
// username/password auth (the server and `etcd-xds register` both connect; a wrong password is
// a clear error). Nothing secret reaches the logs or the admin endpoints.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { grpcBootstrap, type ClientTls } from '../../src/cli/bootstrap';
import { assertAnsweredBy } from '../../testkit/call-results';
import { TestPki, type KeyPair } from '../../testkit/certs';
import { startEchoBackend, type EchoBackend } from '../../testkit/echo-backend';
import { EnvoyRoutingClient } from '../../testkit/envoy-client';
import { envoyAvailable } from '../../testkit/envoy';
import { EtcdProcess } from '../../testkit/etcd';
import { eventually, Mesh } from '../../testkit/mesh';
import { freePort } from '../../testkit/ports';
import { RawAdsClient } from '../../testkit/raw-ads-client';
import type { RoutingClient } from './routing-scenarios';
import { spawnCli } from '../../testkit/run-cli';
import { ServerProcess, type LogLine } from '../../testkit/server-process';
import { clientAvailable, XdsClientProcess, type ClientLanguage } from '../../testkit/xds-client-process';

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';

/** Opens an ADS stream with `credentials` and asks for a listener: the response, or the stream's error. */
async function tryAds(
  address: string,
  credentials: grpc.ChannelCredentials,
): Promise<{ ok: true } | { ok: false; code: number; details: string }> {
  // By name: the certificate is for localhost too, and Node.js warns about an IP as TLS server name.
  const client = new RawAdsClient(address.replace('127.0.0.1', 'localhost'), undefined, 'ADS', credentials);
  client.send({ type_url: LDS, resource_names: ['app'] });
  const outcome = await Promise.race([
    client.next(5_000).then(() => ({ ok: true as const })),
    client.status.then((status) => ({ ok: false as const, code: status.code, details: status.details })),
  ]);
  client.close();
  return outcome;
}

const read = (file: string): Buffer => fs.readFileSync(file);

/**
 * Clients whose bootstrap can give a CA and a client certificate (gRFC A65); grpc-js 1.14 and
 * C-core 1.51 have no TLS xDS credentials at all, grpc-java 1.85 only the JVM trust store.
 */
const MTLS_CLIENTS: readonly ClientLanguage[] = ['grpcio-pypi', 'grpc-go'];

/** The registry's warning that etcd failed (waits for it). */
async function etcdFailureWarning(server: ServerProcess): Promise<LogLine> {
  const { value } = await eventually(
    () =>
      server.log.lines.find((line) => line.msg === 'etcd list/watch failed; serving the last known catalog'),
    (line) => assert.ok(line),
  );
  return value!;
}

/** v1 calls reach a1 and v2 calls reach b1 (the backends every suite here registers). */
async function assertRoutesByVersion(xds: Pick<RoutingClient, 'call'>): Promise<void> {
  for (const [version, id] of [
    ['v1', 'a1'],
    ['v2', 'b1'],
  ]) {
    await eventually(
      () => xds.call('xds:///app', { metadata: { version }, count: 4, deadlineMs: 3_000 }),
      (results) => assertAnsweredBy(results, [id]),
      { timeoutMs: 20_000 },
    );
  }
}

describe('xDS listener with mutual TLS', () => {
  const pki = TestPki.create();
  let ca: KeyPair;
  let server: KeyPair;
  let client: KeyPair;
  let rogue: KeyPair;
  let mesh: Mesh;

  before(async () => {
    ca = pki.ca('xds-ca');
    server = pki.leaf('xds-server', ca);
    client = pki.leaf('xds-client', ca);
    rogue = pki.leaf('rogue-client', pki.ca('rogue-ca'));
    mesh = await Mesh.start(['--tls-cert', server.cert, '--tls-key', server.key, '--tls-client-ca', ca.cert]);
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await mesh.addBackend({ id: 'b1', version: 'v2' });
  });

  after(async () => {
    await mesh?.stop();
    pki.remove();
  });

  it('says in its start-up log that xDS is mutual TLS', () => {
    const serving = mesh.server.log.lines.find((line) => line.msg === 'etcd-xds serving');
    assert.equal(serving?.tls, 'mutual');
  });

  it('refuses plaintext, no client certificate, and a certificate from another CA', async () => {
    const address = mesh.server.xdsAddress;
    const refused = {
      plaintext: await tryAds(address, grpc.credentials.createInsecure()),
      'TLS without a client certificate': await tryAds(address, grpc.credentials.createSsl(read(ca.cert))),
      'a client certificate from another CA': await tryAds(
        address,
        grpc.credentials.createSsl(read(ca.cert), read(rogue.key), read(rogue.cert)),
      ),
    };
    for (const [what, outcome] of Object.entries(refused)) {
      assert.equal(outcome.ok, false, `${what} must be refused`);
      assert.equal(outcome.ok === false && outcome.code, grpc.status.UNAVAILABLE, what);
    }
    const accepted = await tryAds(
      address,
      grpc.credentials.createSsl(read(ca.cert), read(client.key), read(client.cert)),
    );
    assert.deepEqual(accepted, { ok: true });
  });

  for (const language of MTLS_CLIENTS) {
    it(`${language} routes by version over a mutual-TLS xDS channel`, async (t) => {
      if (!clientAvailable(language)) {
        assert.fail(`${language} is not built: run scripts/build-interop.sh`);
      }
      const tls: ClientTls = { ca: ca.cert, cert: client.cert, key: client.key };
      const xds = await XdsClientProcess.start(
        language,
        grpcBootstrap({ servers: [`localhost:${mesh.server.xdsPort}`], nodeId: `${language}-mtls`, tls }),
      );
      try {
        await assertRoutesByVersion(xds);
        t.diagnostic(`${language} ${xds.version}`);
      } finally {
        await xds.stop();
      }
    });
  }

  it('a real client with a certificate from another CA gets no configuration', async () => {
    const tls: ClientTls = { ca: ca.cert, cert: rogue.cert, key: rogue.key };
    const xds = await XdsClientProcess.start(
      'grpcio-pypi',
      grpcBootstrap({ servers: [`localhost:${mesh.server.xdsPort}`], nodeId: 'rogue', tls }),
    );
    try {
      const [result] = await xds.call('xds:///app', { metadata: { version: 'v1' }, deadlineMs: 3_000 });
      assert.equal(result.ok, false, 'the call must not reach a backend');
      const { body } = await mesh.server.admin<{ clients: { node: { id: string } | null }[] }>(
        '/debug/clients',
      );
      assert.ok(!body.clients.some((c) => c.node?.id === 'rogue'), 'the rogue client must have no stream');
    } finally {
      await xds.stop();
    }
  });

  it('Envoy routes by version over a mutual-TLS xDS channel', async () => {
    assert.ok(envoyAvailable(), 'Envoy is not built: run scripts/build-interop.sh');
    // A second server on the same etcd, giving Envoy its listener on a free port.
    const port = await freePort();
    const second = await ServerProcess.start([
      '--etcd',
      mesh.etcd.url,
      '--envoy-listener',
      `127.0.0.1:${port}`,
      '--tls-cert',
      server.cert,
      '--tls-key',
      server.key,
      '--tls-client-ca',
      ca.cert,
    ]);
    const envoy = await EnvoyRoutingClient.start(second.xdsAddress, port, {
      nodeId: 'envoy-mtls',
      tls: { ca: ca.cert, cert: client.cert, key: client.key },
    });
    try {
      await assertRoutesByVersion(envoy);
      const rejected = [...(await envoy.envoy.stats('update_rejected'))].filter(([, v]) => v !== 0);
      assert.deepEqual(rejected, []);
    } finally {
      await envoy.stop();
      await second.stop();
    }
  });
});

describe('xDS listener with TLS (no client certificates)', () => {
  const pki = TestPki.create();
  let ca: KeyPair;
  let mesh: Mesh;

  before(async () => {
    ca = pki.ca('tls-ca');
    const leaf = pki.leaf('tls-server', ca);
    mesh = await Mesh.start(['--tls-cert', leaf.cert, '--tls-key', leaf.key]);
    await mesh.addBackend({ id: 'a1', version: 'v1' });
    await mesh.addBackend({ id: 'b1', version: 'v2' });
  });

  after(async () => {
    await mesh?.stop();
    pki.remove();
  });

  it('serves any TLS client that trusts its CA, and refuses plaintext', async () => {
    const address = mesh.server.xdsAddress;
    assert.equal(mesh.server.log.lines.find((line) => line.msg === 'etcd-xds serving')?.tls, 'tls');
    assert.deepEqual(await tryAds(address, grpc.credentials.createSsl(read(ca.cert))), { ok: true });
    const plaintext = await tryAds(address, grpc.credentials.createInsecure());
    assert.equal(plaintext.ok, false);
  });

  it('is refused by a client that does not trust its CA', async () => {
    const other = pki.ca('unrelated-ca');
    const outcome = await tryAds(mesh.server.xdsAddress, grpc.credentials.createSsl(read(other.cert)));
    assert.equal(outcome.ok, false);
  });

  // grpc-java 1.85's "tls" channel creds ignore the bootstrap's files and use the JVM's trust
  // store: TLS works with the CA in a trust store; a client certificate cannot be given.
  it('grpc-java routes by version over a TLS xDS channel, trusting the CA through the JVM trust store', async (t) => {
    assert.ok(clientAvailable('grpc-java'), 'grpc-java is not built: run scripts/build-interop.sh');
    const trustStore = path.join(pki.dir, 'truststore.p12');
    execFileSync(
      'keytool',
      [
        '-importcert',
        '-noprompt',
        '-storetype',
        'PKCS12',
        '-keystore',
        trustStore,
        '-storepass',
        'changeit',
        '-alias',
        'etcd-xds-ca',
        '-file',
        ca.cert,
      ],
      { stdio: 'ignore' },
    );
    const xds = await XdsClientProcess.start(
      'grpc-java',
      grpcBootstrap({
        servers: [`localhost:${mesh.server.xdsPort}`],
        nodeId: 'grpc-java-tls',
        tls: { ca: ca.cert },
      }),
      {
        JAVA_TOOL_OPTIONS: `-Djavax.net.ssl.trustStore=${trustStore} -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12`,
      },
    );
    try {
      await assertRoutesByVersion(xds);
      t.diagnostic(`grpc-java ${xds.version}`);
    } finally {
      await xds.stop();
    }
  });
});

describe('etcd with TLS, client certificates and auth', () => {
  const pki = TestPki.create();
  const READER_PASSWORD = 'reader-pw-5f1c2e';
  const REGISTRAR_PASSWORD = 'registrar-pw-9a7b3d';
  let ca: KeyPair;
  let clientCert: KeyPair;
  let etcd: EtcdProcess;
  let root: Etcd3;
  const started: { stop(): Promise<void> }[] = [];

  /** Flags that reach this etcd with the CA and the client certificate. */
  const tlsFlags = (): string[] => [
    '--etcd',
    etcd.url,
    '--etcd-ca',
    ca.cert,
    '--etcd-cert',
    clientCert.cert,
    '--etcd-key',
    clientCert.key,
  ];

  before(async () => {
    ca = pki.ca('etcd-ca');
    const serverCert = pki.leaf('etcd-server', ca);
    clientCert = pki.leaf('etcd-client', ca);
    etcd = await EtcdProcess.start({
      tls: {
        cert: serverCert.cert,
        key: serverCert.key,
        clientCa: ca.cert,
        healthClient: { ca: ca.cert, ...clientCert },
      },
    });
    const credentials = {
      rootCertificate: read(ca.cert),
      certChain: read(clientCert.cert),
      privateKey: read(clientCert.key),
    };
    // Least privilege: etcd-xds reads both prefixes; a registrar writes registrations only.
    const setup = new Etcd3({ hosts: etcd.url, credentials });
    await setup.user('root').create('root-pw');
    await setup.user('root').addRole('root');
    await setup.role('xds-reader').create();
    await setup.role('xds-reader').grant([
      { permission: 'Read', range: setup.range({ prefix: '/services/' }) },
      { permission: 'Read', range: setup.range({ prefix: '/xds/policies/' }) },
    ]);
    await setup.user('xds').create(READER_PASSWORD);
    await setup.user('xds').addRole('xds-reader');
    await setup.role('registrar').create();
    await setup
      .role('registrar')
      .grant({ permission: 'Readwrite', range: setup.range({ prefix: '/services/' }) });
    await setup.user('registrar').create(REGISTRAR_PASSWORD);
    await setup.user('registrar').addRole('registrar');
    await setup.auth.authEnable({});
    setup.close();
    root = new Etcd3({ hosts: etcd.url, credentials, auth: { username: 'root', password: 'root-pw' } });
  });

  after(async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    root?.close();
    await etcd?.stop();
    pki.remove();
  });

  it('refuses a client without credentials (the harness set etcd up as intended)', async () => {
    const anonymous = new Etcd3({
      hosts: etcd.url,
      credentials: {
        rootCertificate: read(ca.cert),
        certChain: read(clientCert.cert),
        privateKey: read(clientCert.key),
      },
    });
    try {
      await assert.rejects(anonymous.get('/services/x').string(), /user name is empty|permission denied/i);
    } finally {
      anonymous.close();
    }
  });

  it('serves registrations made by `etcd-xds register`, both over TLS with auth', async () => {
    const passwordFile = path.join(pki.dir, 'registrar-password');
    fs.writeFileSync(passwordFile, `${REGISTRAR_PASSWORD}\n`, { mode: 0o600 });
    const server = await ServerProcess.start(
      [...tlsFlags(), '--etcd-username', 'xds', '--debounce-ms', '20', '--max-delay-ms', '200'],
      { ETCD_XDS_ETCD_PASSWORD: READER_PASSWORD },
    );
    started.push(server);
    const backend: EchoBackend = await startEchoBackend({ service: 'secure', id: 's1', version: 'v1' });
    started.push(backend);
    let registrarOutput = '';
    const registrar: ChildProcess = spawnCli([
      'register',
      '--service',
      'secure',
      '--version',
      'v1',
      '--id',
      's1',
      '--address',
      backend.address,
      '--ttl',
      '5',
      ...tlsFlags(),
      '--etcd-username',
      'registrar',
      '--etcd-password-file',
      passwordFile,
    ]);
    registrar.stdout!.on('data', (chunk: Buffer) => (registrarOutput += chunk.toString()));
    registrar.stderr!.on('data', (chunk: Buffer) => (registrarOutput += chunk.toString()));
    const registrarExit = new Promise<number | null>((resolve) => registrar.once('exit', resolve));
    const client = await XdsClientProcess.start('grpc-js', grpcBootstrap({ servers: [server.xdsAddress] }));
    try {
      await eventually(
        () => client.call('xds:///secure', { metadata: { version: 'v1' }, count: 3 }),
        (results) => assertAnsweredBy(results, ['s1']),
        { timeoutMs: 20_000 },
      );
      assert.equal((await server.admin('/readyz')).status, 200);
      registrar.kill('SIGTERM');
      assert.equal(await registrarExit, 0, registrarOutput);
      assert.equal(
        await root.get('/services/secure/s1').string(),
        null,
        'the registrar deregisters on SIGTERM',
      );

      // Nothing secret in the logs or on the admin endpoints.
      const exposed = [
        server.log.lines.map((line) => JSON.stringify(line)).join('\n') + server.log.other,
        registrarOutput,
        ...(await Promise.all(
          ['/debug/config_dump', '/debug/clients', '/metrics', '/readyz'].map(async (url) =>
            JSON.stringify((await server.admin(url)).body),
          ),
        )),
      ].join('\n');
      for (const secret of [READER_PASSWORD, REGISTRAR_PASSWORD, fs.readFileSync(clientCert.key, 'utf8')]) {
        assert.ok(!exposed.includes(secret.trim()), 'a secret was exposed');
      }
      assert.match(registrarOutput, /"msg":"registered"/);
    } finally {
      registrar.kill('SIGKILL');
      await client.stop();
    }
  });

  it('stays unready with a clear error when the password is wrong', async (t) => {
    const server = await ServerProcess.start([...tlsFlags(), '--etcd-username', 'xds'], {
      ETCD_XDS_ETCD_PASSWORD: 'wrong-password-4e2a',
    });
    started.push(server);
    const warning = await etcdFailureWarning(server);
    assert.match(String(warning.err), /authentication failed/i);
    t.diagnostic(`wrong password: ${String(warning.err)}`);
    const ready = await server.admin<string>('/readyz');
    assert.equal(ready.status, 503);
    const all = server.log.lines.map((line) => JSON.stringify(line)).join('\n') + server.log.other;
    assert.ok(!all.includes('wrong-password-4e2a'), 'the password must not be logged');
  });

  it('stays unready with a clear error without the etcd client certificate', async (t) => {
    const server = await ServerProcess.start(
      ['--etcd', etcd.url, '--etcd-ca', ca.cert, '--etcd-username', 'xds'],
      { ETCD_XDS_ETCD_PASSWORD: READER_PASSWORD },
    );
    started.push(server);
    const warning = await etcdFailureWarning(server);
    assert.match(String(warning.err), /UNAVAILABLE/);
    t.diagnostic(`no client certificate: ${String(warning.err)}`);
    assert.equal((await server.admin('/readyz')).status, 503);
  });
});
