import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/metrics';

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
