// Compaction past the watch: while the server is frozen, thousands of changes land and etcd is
// compacted to the newest revision, so etcd can no longer replay what the watch missed. The
// server must re-list and carry on with exactly etcd's view.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEtcdClient } from '../../src/cli/etcd-client';
import { EtcdProcess } from '../../testkit/etcd';
import { eventually } from '../../testkit/mesh';
import { ServerProcess } from '../../testkit/server-process';

interface Dump {
  catalog: { revision: number; services: { instances: { key: string; id: string }[] }[] } | null;
}

describe('watch compaction', () => {
  it("re-lists when etcd compacted past the watch, and ends with etcd's view", async () => {
    const etcd = await EtcdProcess.start();
    const server = await ServerProcess.start(['--etcd', etcd.url, '--debounce-ms', '20']);
    const kv = createEtcdClient({ endpoints: [etcd.url] });
    try {
      await kv.put('/services/app/seed').value(JSON.stringify({ name: 'app', address: '10.0.0.1:1' }));
      await eventually(
        () => server.admin<Dump>('/debug/config_dump'),
        ({ body }) => assert.equal(body.catalog?.services.length, 1),
      );
      server.pause();
      // Enough data that etcd cannot buffer it for the frozen watcher and drops it to catch up
      // later — from history that the compaction then removes.
      const padding = 'x'.repeat(2_000);
      for (let i = 0; i < 3_000; i++) {
        const slot = i % 200;
        await kv
          .put(`/services/app/${slot}`)
          .value(
            JSON.stringify({
              name: 'app',
              id: `r${i}`,
              address: `10.1.0.${slot + 1}:1`,
              metadata: { padding },
            }),
          )
          .exec();
      }
      const { header } = await kv.get('/').exec();
      await kv.kv.compact({ revision: header.revision, physical: true });
      server.resume();
      const { elapsedMs } = await eventually(
        () => server.admin<Dump>('/debug/config_dump'),
        ({ body }) => {
          assert.equal(body.catalog?.revision, Number(header.revision));
          const ids = (body.catalog?.services ?? []).flatMap((s) => s.instances.map((i) => i.id)).sort();
          assert.equal(ids.length, 201);
          assert.ok(ids.includes('r2999') && ids.includes('r2800'), 'the latest values');
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      const metrics = (await server.admin<string>('/metrics')).body;
      assert.match(metrics, /^etcd_xds_etcd_relists_total\{reason="compacted"\} 1$/m);
      const warning = server.log.lines.find((l) => /watch compacted/.test(String(l.err)));
      console.log(`# ${String(warning?.err)}; caught up ${elapsedMs.toFixed(0)} ms after resuming`);
    } finally {
      kv.close();
      await server.stop();
      await etcd.stop();
    }
  });
});
