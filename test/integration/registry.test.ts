// The registry against a real etcd: one consistent list, a watch without gaps, pagination,
// riding out an etcd restart and a compaction.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { Metrics } from '../../src/metrics';
import type { Catalog } from '../../src/registry/catalog';
import { EtcdRegistry } from '../../src/registry/etcd-registry';
import { useEtcd } from '../../testkit/hooks';
import { eventually } from '../../testkit/mesh';

const registration = (i: number): string =>
  JSON.stringify({
    name: `svc-${i % 7}`,
    id: `i-${i}`,
    version: `v${i % 3}`,
    address: `10.1.${i >> 8}.${i & 255}:80`,
  });

describe('EtcdRegistry', () => {
  const fixture = useEtcd();

  function startRegistry(
    client: Etcd3,
    pageSize?: number,
    logger = pino({ level: 'silent' }),
    probe: { probeIntervalMs?: number; maxWatchLagMs?: number } = {},
  ): { registry: EtcdRegistry; latest: () => Catalog | undefined; metrics: Metrics } {
    let latest: Catalog | undefined;
    const metrics = new Metrics({ defaultMetrics: false });
    const registry = new EtcdRegistry({
      client,
      prefix: '/services/',
      policyPrefix: '/xds/policies/',
      logger,
      metrics,
      onCatalog: (catalog) => (latest = catalog),
      pageSize,
      minBackoffMs: 50,
      maxBackoffMs: 500,
      ...probe,
    });
    registry.start();
    return { registry, latest: () => latest, metrics };
  }

  const keysOf = (catalog: Catalog | undefined): string[] =>
    [...(catalog?.services.values() ?? [])].flatMap((s) => s.instances.map((i) => i.key)).sort();

  async function etcdKeys(): Promise<string[]> {
    return (await fixture.kv.getAll().prefix('/services/').keys()).sort();
  }

  it('misses nothing written while it lists and starts watching, across small pages', async () => {
    await fixture.kv.delete().all();
    for (let i = 0; i < 25; i++) await fixture.kv.put(`/services/pre/${i}`).value(registration(i));
    await fixture.kv.put('/xds/policies/svc-1').value('{"defaultVersion":"v1"}');
    const client = new Etcd3({ hosts: fixture.etcd.url });
    // Keep writing and deleting while the registry lists (in pages of 4) and starts its watch.
    let writing = true;
    const writer = (async () => {
      for (let i = 100; writing || i < 160; i++) {
        await fixture.kv.put(`/services/live/${i}`).value(registration(i));
        if (i % 5 === 0) await fixture.kv.delete().key(`/services/pre/${i % 25}`);
      }
    })();
    const { registry, latest } = startRegistry(client, 4);
    try {
      await eventually(
        () => latest(),
        (c) => assert.ok(c !== undefined),
      );
      writing = false;
      await writer;
      const expected = await etcdKeys();
      await eventually(
        () => keysOf(latest()),
        (keys) => assert.deepEqual(keys, expected),
      );
      assert.equal(latest()!.services.get('svc-1')!.policy.defaultVersion, 'v1');
      assert.equal(registry.status().stale, false);
    } finally {
      await registry.stop();
      client.close();
    }
  });

  it('lists in a first page of 10,000 keys, then pages sized by the bytes per key', async () => {
    await fixture.kv.delete().all();
    const total = 30_000;
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < total; i += 125) {
      writes.push(
        fixture.kv
          .if('/none', 'Version', '==', 0)
          .then(
            ...Array.from({ length: 125 }, (_, j) =>
              fixture.kv.put(`/services/many/${String(i + j).padStart(6, '0')}`).value(registration(i + j)),
            ),
          )
          .commit(),
      );
      if (writes.length >= 8) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    type Line = { msg?: string; pages?: number; registrations?: number };
    const lines: Line[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Line) },
    );
    const client = new Etcd3({ hosts: fixture.etcd.url });
    const { registry, latest } = startRegistry(client, undefined, logger);
    try {
      await eventually(
        () => keysOf(latest()).length,
        (count) => assert.equal(count, total),
      );
      const listed = lines.find((line) => line.msg === 'listed etcd');
      // 10,000 keys, then the other 20,000 (~100 bytes each) in one page of up to 100,000; and
      // the policy prefix's one (empty) page.
      assert.deepEqual(
        { registrations: listed?.registrations, pages: listed?.pages },
        {
          registrations: total,
          pages: 3,
        },
      );
    } finally {
      await registry.stop();
      client.close();
    }
  });

  it('does not take a steady stream of writes for a stalled watch (no re-list)', async () => {
    await fixture.kv.delete().all();
    const client = new Etcd3({ hosts: fixture.etcd.url });
    // Probes every 50 ms, each finding writes the watch has not delivered yet (made since its
    // last event); only a change still undelivered 400 ms after a probe found it is lag.
    const { registry, latest, metrics } = startRegistry(client, undefined, undefined, {
      probeIntervalMs: 50,
      maxWatchLagMs: 400,
    });
    try {
      await eventually(
        () => latest(),
        (c) => assert.ok(c !== undefined),
      );
      let lagSeen = 0;
      const started = performance.now();
      for (let i = 0; performance.now() - started < 2_500; i++) {
        await Promise.all(
          Array.from({ length: 4 }, (_, j) =>
            fixture.kv.put(`/services/steady/${(i * 4 + j) % 50}`).value(registration(i * 4 + j)),
          ),
        );
        lagSeen = Math.max(lagSeen, (await metrics.etcdWatchLagSeconds.get()).values[0]?.value ?? 0);
      }
      const expected = await etcdKeys();
      await eventually(
        () => keysOf(latest()),
        (keys) => assert.deepEqual(keys, expected),
      );
      const relists = (await metrics.etcdRelists.get()).values;
      assert.deepEqual(
        relists.map(({ labels, value }) => [labels.reason, value]),
        [['start', 1]],
        'listed once, at start',
      );
      assert.ok(lagSeen < 0.4, `watch lag reported ${lagSeen} s under steady writes`);
    } finally {
      await registry.stop();
      client.close();
    }
  });

  it('reads a page too large for the client in smaller pages', async () => {
    await fixture.kv.delete().all();
    // 300 registrations of ~1 KB: one default page (10,000 keys) is ~300 KB, over the 64 KiB limit.
    const padded = (i: number): string =>
      JSON.stringify({ ...JSON.parse(registration(i)), metadata: { pad: 'x'.repeat(1_000) } });
    for (let i = 0; i < 300; i += 50) {
      await fixture.kv
        .if('/none', 'Version', '==', 0)
        .then(
          ...Array.from({ length: 50 }, (_, j) =>
            fixture.kv.put(`/services/big/${i + j}`).value(padded(i + j)),
          ),
        )
        .commit();
    }
    const client = new Etcd3({
      hosts: fixture.etcd.url,
      grpcOptions: { 'grpc.max_receive_message_length': 64 * 1024 },
      // No fault handling: the registry alone must get past a too-large response (etcd-xds's own
      // client likewise neither retries one nor holds it against the host).
      faultHandling: { host: () => noop, global: noop },
    });
    const { registry, latest } = startRegistry(client);
    try {
      const expected = await etcdKeys();
      assert.equal(expected.length, 300);
      await eventually(
        () => keysOf(latest()),
        (keys) => assert.deepEqual(keys, expected),
      );
      assert.equal(registry.status().stale, false);
    } finally {
      await registry.stop();
      client.close();
    }
  });

  it('keeps the last catalog through an etcd restart, reports stale, then resyncs', async () => {
    await fixture.kv.delete().all();
    await fixture.kv.put('/services/a/1').value(registration(1));
    const client = new Etcd3({ hosts: fixture.etcd.url });
    const { registry, latest } = startRegistry(client);
    try {
      await eventually(
        () => keysOf(latest()),
        (keys) => assert.deepEqual(keys, ['/services/a/1']),
      );
      await fixture.etcd.halt();
      await eventually(
        () => registry.status(),
        (s) => assert.equal(s.stale, true),
        { timeoutMs: 20_000 },
      );
      assert.deepEqual(keysOf(latest()), ['/services/a/1'], 'an unreachable etcd is not an empty registry');
      await fixture.etcd.restart();
      await eventually(
        () => registry.status(),
        (s) => assert.equal(s.stale, false),
        { timeoutMs: 20_000 },
      );
      await fixture.kv.put('/services/a/2').value(registration(2));
      await eventually(
        () => keysOf(latest()),
        (keys) => assert.deepEqual(keys, ['/services/a/1', '/services/a/2']),
      );
    } finally {
      await registry.stop();
      client.close();
    }
  });

  it('carries on through a compaction', async () => {
    await fixture.kv.delete().all();
    const client = new Etcd3({ hosts: fixture.etcd.url });
    const { registry, latest } = startRegistry(client);
    try {
      for (let i = 0; i < 20; i++) await fixture.kv.put(`/services/c/${i}`).value(registration(i));
      await eventually(
        () => keysOf(latest()).length,
        (n) => assert.equal(n, 20),
      );
      const { header } = await fixture.kv.getAll().prefix('/').exec();
      await fixture.kv.kv.compact({ revision: header.revision, physical: true });
      await fixture.kv.put('/services/c/after').value(registration(99));
      await eventually(
        () => keysOf(latest()).length,
        (n) => assert.equal(n, 21),
      );
      assert.equal(
        latest()!.revision,
        Number((await fixture.kv.getAll().prefix('/').exec()).header.revision),
      );
    } finally {
      await registry.stop();
      client.close();
    }
  });
});
