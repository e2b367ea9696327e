// etcd restarting, and a three-member cluster losing its leader, while registrations keep
// changing: the server must end up with exactly etcd's view, no event lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/cli/etcd-client';
import { EtcdProcess } from '../../testkit/etcd';
import { EtcdCluster } from '../../testkit/etcd-cluster';
import { eventually } from '../../testkit/mesh';
import { ServerProcess } from '../../testkit/server-process';

interface Dump {
  catalog: { revision: number; services: { instances: { key: string; address: string }[] }[] } | null;
}

/** Puts and deletes registrations until stopped, retrying writes that fail while etcd recovers. */
class Churn {
  private running = true;
  private readonly loop: Promise<void>;
  writes = 0;
  retries = 0;
  /** The longest a single write took, retries included (a write stuck in a failover shows here). */
  slowestWriteMs = 0;

  constructor(private readonly kv: Etcd3) {
    this.loop = (async () => {
      for (let i = 0; this.running; i++) {
        const write = (): Promise<unknown> =>
          i % 4 === 3
            ? this.kv
                .delete()
                .key(`/services/churn/k${i - 2}`)
                .exec()
            : this.kv
                .put(`/services/churn/k${i}`)
                .value(
                  JSON.stringify({
                    name: `svc${i % 5}`,
                    id: `k${i}`,
                    version: `v${i % 3}`,
                    address: `10.9.${(i >> 8) & 255}.${i & 255}:80`,
                  }),
                )
                .exec();
        const startedAt = performance.now();
        for (;;) {
          try {
            await write();
            this.writes++;
            this.slowestWriteMs = Math.max(this.slowestWriteMs, performance.now() - startedAt);
            break;
          } catch {
            this.retries++;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** Waits until the server's catalog has exactly the registrations etcd has; returns how long it took. */
async function assertSameView(server: ServerProcess, kv: Etcd3): Promise<number> {
  const expected = (await kv.getAll().prefix('/services/').keys()).sort();
  const { header } = await kv.get('/').exec();
  const { elapsedMs } = await eventually(
    () => server.admin<Dump>('/debug/config_dump'),
    ({ body }) => {
      const actual = (body.catalog?.services ?? []).flatMap((s) => s.instances.map((i) => i.key)).sort();
      assert.deepEqual(actual, expected, "the server's view differs from etcd's");
      const revision = body.catalog?.revision ?? 0;
      assert.ok(
        revision >= Number(header.revision) - 1,
        `the server's catalog is at revision ${revision}, etcd at ${header.revision}`,
      );
    },
    { timeoutMs: 20_000, intervalMs: 20 },
  );
  return elapsedMs;
}

describe('etcd failures while registrations change', () => {
  it('a restart of a single etcd loses no event', async () => {
    const etcd = await EtcdProcess.start();
    const server = await ServerProcess.start(['--etcd', etcd.url, '--debounce-ms', '20']);
    const kv = createEtcdClient({ endpoints: [etcd.url] });
    try {
      const churn = new Churn(kv);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const restartedAt = performance.now();
      await etcd.restart();
      const downMs = performance.now() - restartedAt;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await churn.stop();
      const convergedMs = await assertSameView(server, kv);
      console.log(
        `# etcd restart (down ${downMs.toFixed(0)} ms): ${churn.writes} writes, ${churn.retries} retried; server matched etcd ${convergedMs.toFixed(0)} ms after the last write`,
      );
      assert.ok(churn.writes > 100, `only ${churn.writes} writes`);
    } finally {
      kv.close();
      await server.stop();
      await etcd.stop();
    }
  });

  it('a three-member cluster losing its leader loses no event', async () => {
    const cluster = await EtcdCluster.start(3);
    const server = await ServerProcess.start(['--etcd', cluster.urls.join(','), '--debounce-ms', '20']);
    const kv = createEtcdClient({ endpoints: cluster.urls });
    try {
      const churn = new Churn(kv);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const leader = await cluster.leader();
      const writesBeforeKill = churn.writes;
      await cluster.kill(leader);
      const killedAt = performance.now();
      let newLeader = '';
      await eventually(
        async () => (newLeader = await cluster.leader().catch(() => '')),
        (name) =>
          assert.ok(
            name !== '' && name !== leader,
            `no new leader yet (asked: '${name}', killed: ${leader})`,
          ),
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      const electedMs = performance.now() - killedAt;
      const writesAtElection = churn.writes;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await cluster.revive(leader);
      // A write proposed through a follower while the leader is gone waits out etcd's request
      // timeout (5 s + 2 election timeouts), so wait for enough writes after the election rather
      // than a fixed time.
      await eventually(
        () => churn.writes,
        (writes) =>
          assert.ok(
            writes >= writesAtElection + 50,
            `only ${writes - writesAtElection} writes after the election`,
          ),
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      await churn.stop();
      console.log(
        `# leader ${leader} killed, ${newLeader} elected after ${electedMs.toFixed(0)} ms: ${churn.writes} writes (${writesBeforeKill} before the kill, ${churn.writes - writesAtElection} after the election), ${churn.retries} retried, slowest ${churn.slowestWriteMs.toFixed(0)} ms`,
      );
      // Registrations must have changed on both sides of the failover, or "no event lost" says nothing.
      // (After it, the wait above already required 50 writes.)
      assert.ok(writesBeforeKill > 0, 'no registration changed before the kill');
      const convergedMs = await assertSameView(server, kv);
      console.log(`# server matched etcd ${convergedMs.toFixed(0)} ms after the last write`);
    } finally {
      kv.close();
      await server.stop();
      await cluster.stop();
    }
  });
});
