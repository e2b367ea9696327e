// The dashboard's JSON pages (/ui/api/*) and its latency timeline, from catalogs built the way
// the registry builds them and explanations from the same translation the server uses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainCall } from '../../../src/admin/explain';
import {
  MAX_INSTANCES_SHOWN,
  page,
  rejectedPage,
  servicesPage,
  typeStatus,
  type ServiceRow,
} from '../../../src/admin/ui/dashboard-data';
import { LatencyTimeline } from '../../../src/admin/ui/latency-timeline';
import { AliasEncodings, Snapshot } from '../../../src/cache/snapshot';
import { CatalogBuilder, type Catalog } from '../../../src/registry/catalog';
import { CLUSTER } from '../../../src/proto/xds-types';
import { TypeSubscription } from '../../../src/server/type-subscription';
import { DEFAULT_TRANSLATE_SETTINGS, translator } from '../../../src/translate/flavours';
import { plainView, viewOf, type View } from '../../../src/translate/view';
import { catalogOf, type InstanceSpec } from '../fixtures';

function defaultCall(catalog: Catalog) {
  const translate = translator(DEFAULT_TRANSLATE_SETTINGS);
  const plain = Snapshot.encode(translate.translate(catalog, plainView('grpc')), new AliasEncodings());
  const cache = {
    translatedCatalog: () => catalog,
    viewOf: (client: Parameters<typeof viewOf>[0]) => viewOf(client, catalog),
    snapshotOf: (view: View) => plain.withOverrides(translate.overrides(catalog, view)),
  };
  return (service: string) => {
    const answer = explainCall(cache, new Map(), { service, headers: new Map(), method: undefined });
    return typeof answer === 'object' ? answer : undefined;
  };
}

const CATALOG = catalogOf(
  [
    { service: 'user', id: 'u3', version: 'v3', address: '10.0.0.3:50051', zone: 'z1' },
    { service: 'user', id: 'u1', version: 'v1', address: '10.0.0.1:50051', weight: 3 },
    { service: 'user', id: 'u0', address: '10.0.0.9:50051', status: 'draining' },
    { service: 'app', id: 'a1', version: 'v2', address: '10.0.1.1:50051' },
  ],
  { user: { weights: { v1: 90, v3: 10 } } },
);

describe('dashboard pages', () => {
  it('a service: versions in order (no version last), each instance, the policy and the split', () => {
    const { total, items } = servicesPage(CATALOG, { offset: 0, limit: 10 }, defaultCall(CATALOG));
    assert.equal(total, 2);
    const user = items.find((s) => s.name === 'user')!;
    assert.deepEqual(user, {
      name: 'user',
      instances: 3,
      versions: [
        {
          version: 'v1',
          count: 1,
          draining: 0,
          instances: [
            {
              id: 'u1',
              key: '/services/user/u1',
              address: '10.0.0.1:50051',
              zone: '',
              weight: 3,
              status: 'serving',
            },
          ],
        },
        {
          version: 'v3',
          count: 1,
          draining: 0,
          instances: [
            {
              id: 'u3',
              key: '/services/user/u3',
              address: '10.0.0.3:50051',
              zone: 'z1',
              weight: 1,
              status: 'serving',
            },
          ],
        },
        {
          version: null,
          count: 1,
          draining: 1,
          instances: [
            {
              id: 'u0',
              key: '/services/user/u0',
              address: '10.0.0.9:50051',
              zone: '',
              weight: 1,
              status: 'draining',
            },
          ],
        },
      ],
      shadowed: 0,
      policy: { key: '/xds/policies/user', settings: user.policy!.settings },
      split: {
        routed: true,
        route: 'default',
        clusters: [
          { cluster: 'user/v1', percent: 90, versions: ['v1'] },
          { cluster: 'user/v3', percent: 10, versions: ['v3'] },
        ],
      },
    } satisfies ServiceRow);
    assert.deepEqual((user.policy.settings as { weights: unknown }).weights, [
      { version: 'v1', weight: 90 },
      { version: 'v3', weight: 10 },
    ]);
    const app = items.find((s) => s.name === 'app')!;
    assert.equal(app.policy, null);
    assert.deepEqual(app.split, {
      routed: true,
      route: 'default',
      clusters: [{ cluster: 'app', percent: 100, versions: ['v2'] }],
    });
  });

  it('a service whose calls fail says why instead of a split', () => {
    const catalog = catalogOf([{ service: 'user', id: 'u0', address: '10.0.0.9:50051', status: 'draining' }]);
    const [user] = servicesPage(catalog, { offset: 0, limit: 10 }, () => ({
      ...defaultCall(catalog)('user')!,
      outcome: 'unavailable',
      reason: 'no serving instance',
    })).items;
    assert.deepEqual(user.split, { routed: false, reason: 'no serving instance' });
    assert.deepEqual(servicesPage(catalog, { offset: 0, limit: 1 }, () => undefined).items[0].split, {
      routed: false,
      reason: 'no snapshot yet',
    });
  });

  it('pages count every match and return only their slice; filters ignore case', () => {
    const numbers = Array.from({ length: 25 }, (_, i) => i);
    const third = page(
      numbers,
      { offset: 20, limit: 10 },
      () => true,
      (n) => n,
    );
    assert.deepEqual(third, { total: 25, offset: 20, items: [20, 21, 22, 23, 24] });
    const even = page(
      numbers,
      { offset: 2, limit: 3 },
      (n) => n % 2 === 0,
      (n) => n,
    );
    assert.deepEqual(even, { total: 13, offset: 2, items: [4, 6, 8] });
    const rows: unknown[] = [];
    page(
      numbers,
      { offset: 0, limit: 2 },
      () => true,
      (n) => rows.push(n),
    );
    assert.equal(rows.length, 2, 'rows are built for the page only');
    assert.deepEqual(
      servicesPage(CATALOG, { offset: 0, limit: 10, filter: 'USE' }, () => undefined).items.map(
        (s) => s.name,
      ),
      ['user'],
    );
    assert.deepEqual(
      servicesPage(undefined, { offset: 0, limit: 10 }, () => undefined),
      {
        total: 0,
        offset: 0,
        items: [],
      },
    );
  });

  it('rejected keys with their kind, code and error', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    builder.putRegistration('/services/app/bad', '{not json');
    builder.putPolicy('/xds/policies/app', '{"weights": {"v1": -1}}');
    const catalog = builder.snapshot(1);
    const { total, items } = rejectedPage(catalog, { offset: 0, limit: 10 });
    assert.equal(total, 2);
    assert.deepEqual(
      items.map((r) => [r.key, r.kind]),
      [
        ['/services/app/bad', 'registration'],
        ['/xds/policies/app', 'policy'],
      ],
    );
    for (const row of items) {
      assert.match(row.code, /^EXDS_/);
      assert.ok(row.error.length > 0);
    }
    assert.equal(rejectedPage(catalog, { offset: 0, limit: 10, filter: 'policies' }).total, 1);
  });

  it('a client type: waiting, pending, acked, nacked (until it accepts a later version)', () => {
    const subscription = new TypeSubscription(CLUSTER);
    assert.equal(typeStatus(subscription).status, 'waiting');
    subscription.recordSent({ nonce: 'n1', version: 'v1', at: 1_000 }, [], [], false);
    assert.equal(typeStatus(subscription).status, 'pending');
    subscription.recordAck('v1', 1_001);
    assert.deepEqual(typeStatus(subscription), { type: 'CDS', acked: 'v1', status: 'acked' });
    subscription.recordSent({ nonce: 'n2', version: 'v2', at: 1_002 }, [], [], false);
    subscription.recordNack('n2', 3, 'bad cluster', 1_003);
    assert.deepEqual(typeStatus(subscription), {
      type: 'CDS',
      acked: 'v1',
      status: 'nacked',
      error: 'bad cluster',
    });
    subscription.recordSent({ nonce: 'n3', version: 'v3', at: 1_004 }, [], [], false);
    assert.equal(typeStatus(subscription).status, 'nacked', 'still refusing until it ACKs');
    subscription.recordAck('v3', 1_005);
    assert.equal(typeStatus(subscription).status, 'acked');
  });
});

describe('a client type refusing config: ordered by events, not clock', () => {
  const sent = (subscription: TypeSubscription, nonce: string, version: string) =>
    subscription.recordSent({ nonce, version, at: 5_000 }, [], [], false);

  it('a NACK then an ACK of a later response in the same millisecond: acked', () => {
    const subscription = new TypeSubscription(CLUSTER);
    sent(subscription, 'n1', 'v1');
    subscription.recordNack('n1', 3, 'bad', 5_000);
    assert.equal(typeStatus(subscription).status, 'nacked');
    sent(subscription, 'n2', 'v2');
    subscription.recordAck('v2', 5_000);
    assert.equal(subscription.refusing, false);
    assert.equal(typeStatus(subscription).status, 'acked');
  });

  it('delta: updates NACKed, the removals response sent with them ACKed after: still nacked', () => {
    const subscription = new TypeSubscription(CLUSTER);
    sent(subscription, 'u1', 'v1');
    sent(subscription, 'r1', 'v1');
    subscription.recordNack('u1', 3, 'bad update', 5_000);
    subscription.recordAck('v1', 5_001);
    assert.equal(subscription.refusing, true);
    assert.deepEqual(typeStatus(subscription), {
      type: 'CDS',
      acked: 'v1',
      status: 'nacked',
      error: 'bad update',
    });
  });

  it('a clock stepping back does not turn an ACK into a NACK', () => {
    const subscription = new TypeSubscription(CLUSTER);
    sent(subscription, 'n1', 'v1');
    subscription.recordNack('n1', 3, 'bad', 9_000);
    sent(subscription, 'n2', 'v2');
    subscription.recordAck('v2', 1_000);
    assert.equal(typeStatus(subscription).status, 'acked');
  });
});

describe('large lists', () => {
  it('a service with many instances lists 20 per version and counts the rest', () => {
    const instances = Array.from({ length: 45 }, (_, i): InstanceSpec => ({
      service: 'big',
      id: `i${String(i).padStart(2, '0')}`,
      version: i % 3 === 0 ? 'v2' : 'v1',
      address: `10.1.0.${i + 1}:50051`,
      status: i === 44 ? 'draining' : 'serving',
    }));
    const catalog = catalogOf(instances);
    const [big] = servicesPage(catalog, { offset: 0, limit: 1 }, () => undefined).items;
    assert.equal(big.instances, 45);
    assert.deepEqual(
      big.versions.map((v) => [v.version, v.count, v.draining, v.instances.length]),
      [
        ['v1', 30, 1, MAX_INSTANCES_SHOWN],
        ['v2', 15, 0, 15],
      ],
    );
  });

  it('without a filter a page stops reading once full, and the total is the size', () => {
    let read = 0;
    const items = (function* () {
      for (let i = 0; i < 1_000; i++) {
        read++;
        yield i;
      }
    })();
    const first = page(items, { offset: 0, limit: 10 }, undefined, (n) => n, 1_000);
    assert.deepEqual(first, { total: 1_000, offset: 0, items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    assert.equal(read, 10);
  });
});

describe('latency timeline', () => {
  it('buckets samples by time: count, median and max; empty buckets are null; old ones drop', () => {
    let now = 1_000_000;
    const timeline = new LatencyTimeline({ bucketMs: 1_000, buckets: 3, now: () => now });
    for (const seconds of [0.01, 0.03, 0.02]) timeline.pushed(seconds);
    const client = {};
    timeline.converged(client, 0.05);
    now += 2_000;
    timeline.pushed(0.5);
    const points = timeline.points();
    assert.deepEqual(
      points.map((p) => p.at),
      [1_000_000, 1_001_000, 1_002_000],
    );
    assert.deepEqual(points[0].push, { count: 3, p50: 0.02, max: 0.03 });
    assert.deepEqual(points[0].convergence, { count: 1, p50: 0.05, max: 0.05 });
    assert.equal(points[1].push, null);
    assert.deepEqual(points[2].push, { count: 1, p50: 0.5, max: 0.5 });
    assert.deepEqual(timeline.lastConvergence(client), { seconds: 0.05, at: 1_000_000 });
    assert.equal(timeline.lastConvergence({}), undefined);
    assert.equal(timeline.samples, 5);
    now += 3_000;
    assert.ok(timeline.points().every((p) => p.push === null && p.convergence === null));
  });

  it('keeps a bounded sample per bucket: exact count and max, a median close to the truth', () => {
    const timeline = new LatencyTimeline({ bucketMs: 60_000, now: () => 0 });
    for (let i = 1; i <= 100_000; i++) timeline.pushed(i / 100_000);
    const [point] = timeline.points().slice(-1);
    assert.equal(point.push!.count, 100_000);
    assert.equal(point.push!.max, 1);
    assert.ok(Math.abs(point.push!.p50 - 0.5) < 0.1, `median ${point.push!.p50}`);
  });
});
