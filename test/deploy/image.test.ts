// The Dockerfile, carried out without a container engine (none runs on this machine): every
// COPY and RUN of every stage acts on a directory standing for that stage's filesystem. The final
// stage must hold only the built server and its production dependencies, and run — as the
// image's non-root user where this test can switch users — what ENTRYPOINT and CMD say.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { buildLocally, type ImageConfig } from '../../testkit/dockerfile';
import { EtcdProcess } from '../../testkit/etcd';
import { eventually } from '../../testkit/mesh';
import { ROOT } from '../../testkit/run-cli';
import { ServerProcess } from '../../testkit/server-process';

const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; optional?: boolean }>;
};

describe('the Dockerfile', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-image-'));
  let root = '';
  let config: ImageConfig;
  let etcd: EtcdProcess | undefined;
  let server: ServerProcess | undefined;

  before(() => {
    ({ root, config } = buildLocally(path.join(ROOT, 'Dockerfile'), ROOT, out));
  });

  after(async () => {
    await server?.signal('SIGTERM').catch(() => undefined);
    await etcd?.stop();
    fs.rmSync(out, { recursive: true, force: true });
  });

  /** A path in the image, in the directory standing for its filesystem. */
  const inImage = (p: string): string => path.join(root, p);

  it('puts only the built server, its protos and production dependencies in the final image', () => {
    assert.equal(config.workdir, '/app');
    assert.deepEqual(fs.readdirSync(inImage('/app')).sort(), [
      'dist',
      'node_modules',
      'package.json',
      'protos',
    ]);
    assert.ok(fs.existsSync(inImage('/app/dist/cli/main.js')));
    // package-lock.json marks what only development needs (`dev: true`).
    const installed = Object.entries(lock.packages).filter(([where]) => where.startsWith('node_modules/'));
    const devOnly = installed.filter(([, entry]) => entry.dev === true).map(([where]) => where);
    const production = installed.filter(([, entry]) => entry.dev !== true && entry.optional !== true);
    assert.ok(devOnly.includes('node_modules/typescript') && devOnly.includes('node_modules/tsx'));
    for (const [where] of production) {
      assert.ok(fs.existsSync(inImage(`/app/${where}/package.json`)), `${where} is installed`);
    }
    for (const where of devOnly) assert.ok(!fs.existsSync(inImage(`/app/${where}`)), `${where} is left out`);
  });

  it('runs as a non-root user, with exec-form ENTRYPOINT and CMD', () => {
    assert.match(
      config.user ?? '',
      /^[1-9]\d*:[1-9]\d*$/,
      'a numeric non-root uid:gid (runAsNonRoot can check it)',
    );
    assert.deepEqual(config.entrypoint.slice(1), ['/app/dist/cli/main.js']);
    assert.equal(config.cmd[0], 'serve');
  });

  it('serves from the image content alone: etcd registrations become xDS resources; SIGTERM exits 0', async (t) => {
    etcd = await EtcdProcess.start();
    const kv = new Etcd3({ hosts: etcd.url });
    await kv
      .put('/services/app/a1')
      .value(JSON.stringify({ name: 'app', id: 'a1', version: 'v1', address: '10.0.0.1:50051' }));
    kv.close();
    // The image's user, when this test may switch to it (it runs as root in CI).
    const [uid, gid] = (config.user ?? '').split(':').map(Number);
    const asImageUser = process.getuid?.() === 0;
    if (asImageUser) {
      for (let dir = root; dir.startsWith(out); dir = path.dirname(dir)) fs.chmodSync(dir, 0o755);
    }
    t.diagnostic(asImageUser ? `running as ${uid}:${gid}` : 'not root: running as the current user');
    const argv = [...config.entrypoint, ...config.cmd].map((arg) =>
      arg.replace(/^\/app\//, `${inImage('/app')}/`).replace(/^--host=0\.0\.0\.0$/, '--host=127.0.0.1'),
    );
    assert.equal(argv[0], '/nodejs/bin/node', "the runtime image's Node");
    server = await ServerProcess.spawn(
      [...argv.slice(1), '--port=0', '--admin-port=0', `--etcd=${etcd.url}`],
      {
        // Only what the image sets, plus a PATH.
        env: { ...config.env, PATH: '/usr/bin:/bin' },
        cwd: inImage(config.workdir),
        ...(asImageUser ? { uid, gid } : {}),
      },
    );
    await eventually(
      () => server!.admin('/readyz'),
      (response) => assert.equal(response.status, 200),
    );
    const dump = await server.admin<{ resources: Record<string, { resources: { name: string }[] }> }>(
      '/debug/config_dump',
    );
    const names = Object.values(dump.body.resources).flatMap((type) => type.resources.map((r) => r.name));
    t.diagnostic(`resources: ${names.join(' ')}`);
    assert.ok(names.includes('app'), `the listener for app is built: ${names.join(' ')}`);
    assert.equal(await server.signal('SIGTERM'), 0);
    server = undefined;
  });
});
