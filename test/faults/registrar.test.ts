// The registrar under faults: a pause longer than its lease, a crash without deregistering
// (clients must drop the instance within TTL + debounce), and an etcd restart.
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { assertAnsweredBy } from '../../testkit/call-results';
import { startEchoBackend } from '../../testkit/echo-backend';
import { useMesh } from '../../testkit/hooks';
import { eventually } from '../../testkit/mesh';
import { spawnCli } from '../../testkit/run-cli';
import { XdsClientProcess, type ClientLanguage } from '../../testkit/xds-client-process';

const TTL_SECONDS = 3;

function register(etcdUrl: string, id: string, address: string): ChildProcess {
  return spawnCli(
    [
      'register',
      '--service',
      'app',
      '--version',
      'v1',
      '--address',
      address,
      '--id',
      id,
      '--ttl',
      String(TTL_SECONDS),
      '--drain-seconds',
      '0',
      '--etcd',
      etcdUrl,
    ],
    'ignore',
  );
}

describe('the registrar under faults', () => {
  const fixture = useMesh(async (mesh) => {
    await mesh.addBackend({ id: 'stable', version: 'v1', ttlSeconds: 30 });
  });

  it('registers again under a new lease after a pause longer than its TTL', async () => {
    const { mesh } = fixture;
    const child = register(mesh.etcd.url, 'paused', '10.0.0.50:80');
    const lease = async (): Promise<string> =>
      (await mesh.kv.get('/services/app/paused').exec()).kvs[0]?.lease ?? '';
    try {
      const { value: first } = await eventually(lease, (l) => assert.ok(l !== ''), { timeoutMs: 20_000 });
      child.kill('SIGSTOP');
      await eventually(
        lease,
        (l) => assert.equal(l, '', 'the lease must expire while the registrar is frozen'),
        {
          timeoutMs: 20_000,
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      child.kill('SIGCONT');
      const resumed = performance.now();
      const { value: second } = await eventually(lease, (l) => assert.ok(l !== '' && l !== first), {
        timeoutMs: 20_000,
      });
      console.log(
        `# frozen past its ${TTL_SECONDS} s lease: registered again ${(performance.now() - resumed).toFixed(0)} ms after resuming (lease ${first} → ${second})`,
      );
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('an instance whose registrar crashed leaves every client within TTL + debounce', async () => {
    const { mesh } = fixture;
    const backend = await startEchoBackend({ service: 'app', id: 'doomed', version: 'v1' });
    const child = register(mesh.etcd.url, 'doomed', backend.address);
    const clients = await Promise.all(
      (['grpc-js', 'python'] satisfies ClientLanguage[]).map((language) =>
        XdsClientProcess.start(language, mesh.bootstrap(`${language}-expiry`)),
      ),
    );
    try {
      for (const client of clients) {
        await eventually(
          () => client.call('xds:///app', { count: 6 }),
          (r) => assertAnsweredBy(r, ['doomed', 'stable']),
          {
            timeoutMs: 20_000,
          },
        );
      }
      child.kill('SIGKILL');
      const killed = performance.now();
      const gone: number[] = [];
      for (const client of clients) {
        await eventually(
          () => client.call('xds:///app', { count: 6 }),
          (r) => assertAnsweredBy(r, ['stable']),
          {
            timeoutMs: 20_000,
            intervalMs: 20,
          },
        );
        gone.push(performance.now() - killed);
      }
      console.log(
        `# registrar killed (TTL ${TTL_SECONDS} s): ${clients.map((c, i) => `${c.language} stopped using the instance after ${gone[i].toFixed(0)} ms`).join(', ')}`,
      );
      // etcd expires leases on a ~0.5 s tick; debounce and push add well under a second.
      for (const ms of gone) assert.ok(ms < TTL_SECONDS * 1_000 + 1_500, `${ms.toFixed(0)} ms`);
    } finally {
      child.kill('SIGKILL');
      for (const client of clients) await client.stop();
      await backend.stop();
    }
  });

  it('keeps its registration through an etcd restart', async () => {
    const { mesh } = fixture;
    const child = register(mesh.etcd.url, 'steady', '10.0.0.51:80');
    const value = async (): Promise<string | null> => mesh.kv.get('/services/app/steady').string();
    try {
      await eventually(value, (v) => assert.ok(v), { timeoutMs: 20_000 });
      await mesh.etcd.restart();
      // Past two TTLs: the key is only still there if the lease keeps being renewed.
      await new Promise((resolve) => setTimeout(resolve, 2 * TTL_SECONDS * 1_000 + 500));
      await eventually(value, (v) => assert.ok(v, 'the registration was lost'), { timeoutMs: 5_000 });
    } finally {
      child.kill('SIGTERM');
    }
  });
});
