// The registrar (TS API and `etcd-xds register`) against a real etcd: lease, keep-alive,
// registering again after the lease is lost, deregistering on stop and on SIGTERM.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { Registrar } from '../../src/register/registrar';
import { parseInstance } from '../../src/registry/instance';
import { useEtcd } from '../../testkit/hooks';
import { eventually } from '../../testkit/mesh';
import { runCli, spawnCli } from '../../testkit/run-cli';

describe('Registrar', () => {
  const fixture = useEtcd();

  async function leaseOf(key: string): Promise<string> {
    const { kvs } = await fixture.kv.get(key).exec();
    return kvs.length === 0 ? '' : kvs[0].lease;
  }

  it('writes the flat form under a lease and deletes it on stop', async () => {
    const client = new Etcd3({ hosts: fixture.etcd.url });
    const registrar = await Registrar.register({
      etcd: client,
      service: 'app',
      version: 'v1',
      address: '10.0.0.5:50051',
      id: 'app-1',
      zone: 'z1',
      ttlSeconds: 5,
    });
    try {
      assert.equal(registrar.key, '/services/app/app-1');
      const value = await fixture.kv.get(registrar.key).string();
      assert.ok(value);
      const parsed = parseInstance(registrar.key, value);
      assert.ok(parsed.ok);
      assert.deepEqual([parsed.value.service, parsed.value.version, parsed.value.zone], ['app', 'v1', 'z1']);
      const lease = await leaseOf(registrar.key);
      assert.notEqual(lease, '0', 'the key must be bound to a lease');
      const { TTL, grantedTTL } = await fixture.kv.leaseClient.leaseTimeToLive({ ID: lease });
      assert.equal(grantedTTL, '5');
      assert.ok(Number(TTL) > 0 && Number(TTL) <= 5);
    } finally {
      await registrar.stop();
      client.close();
    }
    assert.equal(await fixture.kv.get('/services/app/app-1').string(), null);
  });

  it('registers again with a new lease when its lease is revoked behind its back', async () => {
    const client = new Etcd3({ hosts: fixture.etcd.url });
    const registrar = await Registrar.register({
      etcd: client,
      service: 'app',
      address: '10.0.0.6:1',
      id: 'r',
      ttlSeconds: 2,
    });
    try {
      const first = await leaseOf(registrar.key);
      const lost = new Promise((resolve) => registrar.once('lost', resolve));
      await fixture.kv.leaseClient.leaseRevoke({ ID: first });
      await lost;
      const { value: second } = await eventually(
        () => leaseOf(registrar.key),
        (lease) => assert.ok(lease !== '' && lease !== first),
      );
      console.log(`# lease ${first} revoked → registered again under lease ${second}`);
    } finally {
      await registrar.stop();
      client.close();
    }
  });

  it('registers again after etcd restarts with its data lost', async () => {
    const client = new Etcd3({ hosts: fixture.etcd.url });
    const registrar = await Registrar.register({
      etcd: client,
      service: 'app',
      address: '10.0.0.7:1',
      id: 'w',
      ttlSeconds: 2,
    });
    try {
      await fixture.etcd.halt();
      rmSync(fixture.etcd.dataDir, { recursive: true, force: true });
      const started = performance.now();
      await fixture.etcd.restart();
      const { elapsedMs } = await eventually(
        () => fixture.kv.get(registrar.key).string(),
        (v) => assert.ok(v),
        {
          timeoutMs: 20_000,
        },
      );
      console.log(
        `# etcd lost its data: registered again ${(performance.now() - started).toFixed(0)} ms after restart (${elapsedMs.toFixed(0)} ms polling)`,
      );
    } finally {
      await registrar.stop();
      client.close();
    }
  });

  it('refuses to write a registration etcd-xds would skip', async () => {
    await assert.rejects(
      Registrar.register({ etcd: fixture.kv, service: 'app', address: 'localhost:80' }),
      /EXDS_BAD_REGISTRATION.*hostnames are not supported/,
    );
  });
});

describe('etcd-xds register', () => {
  const fixture = useEtcd();

  it('registers until SIGTERM, then drains for --drain-seconds, deregisters and exits 0', async () => {
    const child = spawnCli([
      'register',
      '--service',
      'app',
      '--version',
      'v2',
      '--address',
      '10.0.0.9:8080',
      '--id',
      'cli-1',
      '--ttl',
      '5',
      '--drain-seconds',
      '1',
      '--etcd',
      fixture.etcd.url,
    ]);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const { value } = await eventually(
        () => fixture.kv.get('/services/app/cli-1').string(),
        (v) => assert.ok(v),
        {
          timeoutMs: 20_000,
        },
      );
      assert.deepEqual(JSON.parse(value!), {
        name: 'app',
        id: 'cli-1',
        version: 'v2',
        address: '10.0.0.9:8080',
      });
      const signalled = performance.now();
      child.kill('SIGTERM');
      // First the same registration marked draining (contract §9), still under its lease…
      const draining = await eventually(
        () => fixture.kv.get('/services/app/cli-1').string(),
        (v) => assert.equal((JSON.parse(v ?? '{}') as { status?: string }).status, 'draining'),
      );
      assert.deepEqual(JSON.parse(draining.value!), {
        name: 'app',
        id: 'cli-1',
        version: 'v2',
        address: '10.0.0.9:8080',
        status: 'draining',
      });
      // …then, after the drain, deleted before exiting.
      assert.equal(await exited, 0);
      const drainedMs = performance.now() - signalled;
      assert.ok(drainedMs >= 1_000, `exited ${Math.round(drainedMs)} ms after SIGTERM, before its 1 s drain`);
      assert.equal(await fixture.kv.get('/services/app/cli-1').string(), null, 'deregistered before exiting');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects a bad --drain-seconds with exit code 2', async () => {
    const result = await runCli([
      'register',
      '--service',
      'app',
      '--address',
      '10.0.0.9:80',
      '--drain-seconds',
      'soon',
      '--etcd',
      fixture.etcd.url,
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--drain-seconds: "soon" must be a number of seconds from 0 to 3600/);
  });

  it('rejects an invalid address with exit code 2', async () => {
    const result = await runCli([
      'register',
      '--service',
      'app',
      '--address',
      '0.0.0.0:80',
      '--etcd',
      fixture.etcd.url,
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /EXDS_BAD_REGISTRATION.*unspecified address/);
  });
});
