import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram, Metrics } from '../../src/metrics';
import { random } from './fixtures';

const line = (text: string, prefix: string): string | undefined =>
  text.split('\n').find((l) => l.startsWith(prefix));

describe('counts made in batches (CountBatch)', () => {
  it('are in the counter when it is scraped, even within the turn they were made', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    for (let i = 0; i < 1000; i++) {
      metrics.pushCounts.add('EDS', { type: 'EDS' });
      metrics.pushedResourceCounts.add('EDS', { type: 'EDS' }, 3);
      metrics.requestCounts.add('EDS ack', { type: 'EDS', outcome: 'ack' });
    }
    metrics.requestCounts.add('CDS nack', { type: 'CDS', outcome: 'nack' });
    const text = await metrics.registry.metrics();
    assert.equal(line(text, 'etcd_xds_pushes_total{type="EDS"}'), 'etcd_xds_pushes_total{type="EDS"} 1000');
    assert.equal(
      line(text, 'etcd_xds_pushed_resources_total{'),
      'etcd_xds_pushed_resources_total{type="EDS"} 3000',
    );
    assert.equal(
      line(text, 'etcd_xds_requests_total{type="EDS"'),
      'etcd_xds_requests_total{type="EDS",outcome="ack"} 1000',
    );
    assert.equal(
      line(text, 'etcd_xds_requests_total{type="CDS"'),
      'etcd_xds_requests_total{type="CDS",outcome="nack"} 1',
    );
  });

  it('are counted once, whether flushed by the turn ending or by a scrape', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.pushCounts.add('LDS', { type: 'LDS' }, 2);
    await nextTurn();
    assert.equal((await metrics.pushes.get()).values[0]?.value, 2);
    metrics.pushCounts.add('LDS', { type: 'LDS' });
    await nextTurn();
    assert.equal((await metrics.pushes.get()).values[0]?.value, 3);
    assert.equal((await metrics.pushes.get()).values[0]?.value, 3);
  });
});

describe('FastHistogram', () => {
  it("exposes what prom-client's Histogram does for the same observations", async () => {
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FastHistogram('x_seconds', 'help text', 'type', buckets, [ours]);
    const reference = new Histogram({
      name: 'x_seconds',
      help: 'help text',
      labelNames: ['type'],
      buckets,
      registers: [theirs],
    });
    const next = random(7);
    const types = ['EDS', 'CDS', 'LDS', 'RDS', 'un"known\\'];
    for (let i = 0; i < 5_000; i++) {
      const type = types[Math.floor(next() * types.length)];
      // Bounds themselves, zero, and values between and beyond them.
      const value = i % 7 === 0 ? buckets[i % buckets.length] : i % 11 === 0 ? 0 : next() * 12;
      fast.observe(type, value);
      reference.observe({ type }, value);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    // prom-client's JSON adds `exemplar: null` to each bucket (exemplars are off); the rest is equal.
    const withoutExemplars = (metrics: unknown): unknown =>
      JSON.parse(JSON.stringify(metrics, (key, value: unknown) => (key === 'exemplar' ? undefined : value)));
    assert.deepEqual(
      withoutExemplars(await ours.getMetricsAsJSON()),
      withoutExemplars(await theirs.getMetricsAsJSON()),
    );
    assert.throws(() => fast.observe('EDS', Number.NaN), /not a finite number/);
    fast.reset();
    reference.reset();
    assert.equal(await ours.metrics(), await theirs.metrics());
  });
});
