// Per-client views (contract §7): which labels split views, what two views of one service get, and
// that a view's snapshot built as overrides of the plain one is the full translation, byte for byte.
import assert from 'node:assert/strict';
import { PersistentMap } from '../../../src/persistent-map';
import { describe, it } from 'node:test';
import { AliasEncodings, diffSnapshots, diffViews, Snapshot } from '../../../src/cache/snapshot';
import { ENDPOINT, PUSH_ORDER, ROUTE } from '../../../src/proto/xds-types';
import type { Catalog } from '../../../src/registry/catalog';
import {
  DEFAULT_TRANSLATE_SETTINGS,
  FLAVOURS,
  translateFor,
  translator,
} from '../../../src/translate/flavours';
import { callerRouting, clientKey, plainView, viewOf, type View } from '../../../src/translate/view';
import { catalogOf, type InstanceSpec } from '../fixtures';
import { assertGolden, dump } from './golden';

const USER: InstanceSpec[] = [
  { service: 'user', id: 'u1', version: 'v1', address: '10.0.0.1:50051' },
  { service: 'user', id: 'u3', version: 'v3', address: '10.0.0.3:50051' },
  { service: 'app', id: 'a2', version: 'v2', address: '10.0.1.2:50051' },
];
const PIN = { routes: [{ match: { caller: { service: 'app', version: 'v2' } }, version: 'v3' }] };

const labels = (entries: Record<string, string>): Map<string, string> =>
  new Map(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : 1)));

describe('viewOf', () => {
  const catalog = catalogOf(USER, { user: PIN });

  it('keeps only the labels some policy reads', () => {
    const view = viewOf(
      { flavour: 'grpc', labels: labels({ service: 'app', version: 'v2', pod: 'x-1' }) },
      catalog,
    );
    assert.deepEqual(
      [...view.labels],
      [
        ['service', 'app'],
        ['version', 'v2'],
      ],
    );
    // Another pod of the same app and version: a different client, the same view.
    const other = viewOf(
      { flavour: 'grpc', labels: labels({ service: 'app', version: 'v2', pod: 'x-2' }) },
      catalog,
    );
    assert.equal(other.key, view.key);
    assert.notEqual(
      clientKey({ flavour: 'grpc', labels: labels({ pod: 'x-1' }) }),
      clientKey({ flavour: 'grpc', labels: labels({ pod: 'x-2' }) }),
    );
  });

  it('gives every client the plain view when no policy reads labels', () => {
    const plain = catalogOf(USER, { user: { defaultVersion: 'v1' } });
    assert.deepEqual(callerRouting(plain).keys, []);
    const view = viewOf({ flavour: 'envoy', labels: labels({ service: 'app', version: 'v2' }) }, plain);
    assert.deepEqual(view, plainView('envoy'));
  });

  it('gives a client without the read labels the plain view, and splits views by flavour', () => {
    assert.equal(viewOf({ flavour: 'grpc', labels: labels({ team: 'a' }) }, catalog).key, 'grpc');
    const grpc = viewOf({ flavour: 'grpc', labels: labels({ service: 'app' }) }, catalog);
    const envoy = viewOf({ flavour: 'envoy', labels: labels({ service: 'app' }) }, catalog);
    assert.notEqual(grpc.key, envoy.key);
  });

  it('has a canonical key: label values cannot forge another view', () => {
    const a = viewOf(
      { flavour: 'grpc', labels: labels({ service: 'app","version', version: 'v2' }) },
      catalog,
    );
    const b = viewOf({ flavour: 'grpc', labels: labels({ service: 'app', version: 'v2' }) }, catalog);
    assert.notEqual(a.key, b.key);
  });
});

describe('translation of two views of one service', () => {
  const catalog = catalogOf(USER, { user: PIN });
  const appV2 = viewOf({ flavour: 'grpc', labels: labels({ service: 'app', version: 'v2' }) }, catalog);
  const appV1 = viewOf({ flavour: 'grpc', labels: labels({ service: 'app', version: 'v1' }) }, catalog);

  it('pins app v2 to user v3 (golden)', () => {
    assertGolden('caller-pinned', dump(translateFor(appV2, catalog)));
  });

  it('gives app v1 exactly what a client without labels gets (golden)', () => {
    assertGolden('caller-other', dump(translateFor(appV1, catalog)));
    assert.deepEqual(dump(translateFor(appV1, catalog)), dump(translateFor('grpc', catalog)));
  });

  it('differs between the views only in the route configuration of the service with caller routes', () => {
    const pinned = Snapshot.encode(translateFor(appV2, catalog), new AliasEncodings());
    const plain = Snapshot.encode(translateFor('grpc', catalog), new AliasEncodings());
    const changes = diffSnapshots(plain, pinned);
    assert.deepEqual(
      [...changes].map(([type, c]) => [type.short, [...c.updated], [...c.removed]]),
      [['RDS', ['user'], []]],
    );
  });

  it('renders caller and method routes for Envoy in the one route configuration (golden)', () => {
    const policy = {
      routes: [
        {
          match: { caller: { service: 'app' }, method: { prefix: '/pkg.Echo/' } },
          weights: { v1: 1, v3: 3 },
        },
        { match: { method: { exact: '/pkg.Echo/Who' } }, version: 'v1' },
        {
          match: { method: { regex: '/pkg\\.Echo/W.*' }, headers: [{ name: 'x-a', present: true }] },
          version: 'v3',
        },
      ],
    };
    const withMethods = catalogOf(USER, { user: policy });
    const envoyApp = viewOf({ flavour: 'envoy', labels: labels({ service: 'app' }) }, withMethods);
    assertGolden('caller-envoy', dump(translateFor(envoyApp, withMethods)));
    const grpcApp = viewOf({ flavour: 'grpc', labels: labels({ service: 'app' }) }, withMethods);
    assertGolden('caller-methods', dump(translateFor(grpcApp, withMethods)));
  });
});

/** The view's snapshot as the cache builds it: the plain snapshot with the view's overrides. */
function overlaid(catalog: Catalog, view: View): Snapshot {
  const translate = translator(DEFAULT_TRANSLATE_SETTINGS);
  const plain = Snapshot.encode(translate.translate(catalog, plainView(view.flavour)), new AliasEncodings());
  return plain.withOverrides(translate.overrides(catalog, view));
}

function assertSameSnapshot(actual: Snapshot, expected: Snapshot): void {
  for (const type of PUSH_ORDER) {
    const a = [...actual.all(type)].map((r) => [r.name, r.version, Buffer.from(r.bytes).toString('hex')]);
    const e = [...expected.all(type)].map((r) => [r.name, r.version, Buffer.from(r.bytes).toString('hex')]);
    assert.deepEqual(a, e, type.short);
    assert.equal(actual.typeVersion(type), expected.typeVersion(type), `${type.short} version`);
    assert.equal(actual.count(type), expected.count(type));
    for (const [name] of e) assert.equal(actual.get(type, name)?.version, expected.get(type, name)?.version);
  }
}

describe('a view snapshot as overrides of the plain one', () => {
  const policies = {
    user: {
      routes: [
        { match: { caller: { service: 'app', version: 'v2' } }, version: 'v3' },
        { match: { caller: { zone: 'z1' } }, weights: { v1: 1, v3: 1 } },
        { match: { headers: [{ name: 'x-beta', present: true }] }, version: 'v3' },
      ],
    },
    app: {
      lbPolicy: 'ring_hash',
      hashHeader: 'x-user',
      routes: [{ match: { caller: { service: 'user' } }, version: 'v2' }],
    },
  };
  const catalog = catalogOf(USER, policies);
  const clients = [
    labels({}),
    labels({ service: 'app', version: 'v2' }),
    labels({ service: 'app', version: 'v2', zone: 'z1' }),
    labels({ zone: 'z1' }),
    labels({ service: 'user' }),
  ];

  for (const flavour of FLAVOURS) {
    it(`equals the full translation of the view (${flavour})`, () => {
      for (const clientLabels of clients) {
        const view = viewOf({ flavour, labels: clientLabels }, catalog);
        assertSameSnapshot(
          overlaid(catalog, view),
          Snapshot.encode(translateFor(view, catalog), new AliasEncodings()),
        );
      }
    });
  }

  it('is the plain snapshot itself for a view that gets no caller route', () => {
    const translate = translator(DEFAULT_TRANSLATE_SETTINGS);
    const plain = Snapshot.encode(translateFor('grpc', catalog), new AliasEncodings());
    const view = viewOf({ flavour: 'grpc', labels: labels({ service: 'app', version: 'v1' }) }, catalog);
    assert.equal(plain.withOverrides(translate.overrides(catalog, view)), plain);
  });

  it('diffs two views as a full diff would, from the plain changes and the overrides alone', () => {
    const next = catalogOf(
      [...USER, { service: 'user', id: 'u4', version: 'v3', address: '10.0.0.4:50051' }],
      {
        ...policies,
        user: { routes: [{ match: { caller: { zone: 'z1' } }, version: 'v1' }] },
      },
    );
    for (const flavour of FLAVOURS) {
      for (const before of clients) {
        for (const after of clients) {
          const previous = overlaid(catalog, viewOf({ flavour, labels: before }, catalog));
          const current = overlaid(next, viewOf({ flavour, labels: after }, next));
          const rootChanges = diffSnapshots(previous.root, current.root);
          const fast = diffViews(previous, current, rootChanges);
          const full = diffSnapshots(previous, current);
          const show = (changes: typeof full) =>
            [...changes].map(([type, c]) => [type.short, [...c.updated].sort(), [...c.removed].sort()]);
          assert.deepEqual(
            show(fast),
            show(full),
            `${flavour} ${JSON.stringify([...before])} → ${JSON.stringify([...after])}`,
          );
        }
      }
    }
  });
});

describe('a view rebased onto a later plain snapshot', () => {
  const translate = translator(DEFAULT_TRANSLATE_SETTINGS);
  const view = (catalog: Catalog): View =>
    viewOf({ flavour: 'grpc', labels: labels({ service: 'app', version: 'v2' }) }, catalog);
  const show = (
    changes: ReadonlyMap<{ short: string }, { updated: ReadonlySet<string>; removed: ReadonlySet<string> }>,
  ) => [...changes].map(([type, c]) => [type.short, [...c.updated].sort(), [...c.removed].sort()]);
  const before = catalogOf(USER, { user: PIN });
  const plainBefore = Snapshot.encode(translateFor('grpc', before), new AliasEncodings());
  const overrides = translate.overrides(before, view(before));
  const viewBefore = plainBefore.withOverrides(overrides);

  it('equals the overrides applied again, when the plain changes name none of them', () => {
    // An instance of the caller-routed service, and a version of another one: its endpoints and
    // another route configuration change, not the one the view overrides.
    const after = catalogOf(
      [
        ...USER,
        { service: 'user', id: 'u4', version: 'v3', address: '10.0.0.4:50051' },
        { service: 'app', id: 'a3', version: 'v3', address: '10.0.1.3:50051' },
      ],
      { user: PIN },
    );
    const plainAfter = Snapshot.encode(translateFor('grpc', after), new AliasEncodings());
    const rootChanges = diffSnapshots(plainBefore, plainAfter);
    assert.ok(rootChanges.get(ROUTE)?.updated.has('app'));
    const rebased = viewBefore.rebased(plainAfter);
    assert.equal(rebased.root, plainAfter);
    assertSameSnapshot(rebased, plainAfter.withOverrides(overrides));
    assertSameSnapshot(rebased, Snapshot.encode(translateFor(view(after), after), new AliasEncodings()));
    // The plain changes themselves, which a full diff confirms.
    assert.equal(diffViews(viewBefore, rebased, rootChanges), rootChanges);
    assert.deepEqual(show(rootChanges), show(diffSnapshots(viewBefore, rebased)));
  });

  it('is the plain snapshot for a view without overrides', () => {
    const plainAfter = Snapshot.encode(
      translateFor(
        'grpc',
        catalogOf([...USER, { service: 'user', id: 'u5', version: 'v1', address: '10.0.0.5:1' }], {
          user: PIN,
        }),
      ),
      new AliasEncodings(),
    );
    assert.equal(plainBefore.rebased(plainAfter), plainAfter);
  });

  it('diffs as a full diff when the plain changes name a resource both views override alike', () => {
    // The plain route configuration of `user` changes, the view's (the same override) does not.
    const after = catalogOf(USER, { user: { ...PIN, defaultVersion: 'v3' } });
    const plainAfter = Snapshot.encode(translateFor('grpc', after), new AliasEncodings());
    const rootChanges = diffSnapshots(plainBefore, plainAfter);
    assert.ok(rootChanges.get(ROUTE)?.updated.has('user'));
    const viewAfter = plainAfter.withOverrides(overrides);
    assert.ok(viewAfter.sameOverrides(viewBefore, ROUTE));
    assert.deepEqual(
      show(diffViews(viewBefore, viewAfter, rootChanges)),
      show(diffSnapshots(viewBefore, viewAfter)),
    );
  });
});

describe('Snapshot.typeVersion', () => {
  it('does not depend on the order resources were added in', () => {
    const catalog = catalogOf(USER);
    const set = translateFor('grpc', catalog);
    const reversed = {
      ...set,
      byType: new Map(
        [...set.byType].map(([type, named]) => [type, PersistentMap.from([...named].reverse())]),
      ),
    };
    const a = Snapshot.encode(set, new AliasEncodings());
    const b = Snapshot.encode(reversed, new AliasEncodings());
    for (const type of PUSH_ORDER) assert.equal(a.typeVersion(type), b.typeVersion(type));
    assert.match(a.typeVersion(ROUTE), /^[0-9a-f]{16}$/);
  });

  it('changes when any resource does', () => {
    const a = Snapshot.encode(translateFor('grpc', catalogOf(USER)), new AliasEncodings());
    const b = Snapshot.encode(
      translateFor('grpc', catalogOf(USER, { user: { defaultVersion: 'v3' } })),
      new AliasEncodings(),
    );
    assert.notEqual(a.typeVersion(ROUTE), b.typeVersion(ROUTE));
  });
});

describe('zone affinity (contract §10) as a view', () => {
  const ZONED: InstanceSpec[] = [
    { service: 'zoned', id: 'a', version: 'v1', address: '10.1.0.1:80', zone: 'z1' },
    { service: 'zoned', id: 'b', version: 'v1', address: '10.1.0.2:80', zone: 'z2' },
    { service: 'zoned', id: 'c', version: 'v2', address: '10.1.0.3:80' },
    { service: 'zoned', id: 'd', version: 'v2', address: '10.1.0.4:80', zone: 'z1', status: 'draining' },
    { service: 'other', id: 'o', version: 'v1', address: '10.2.0.1:80', zone: 'z1' },
  ];
  const catalog = catalogOf(ZONED, { zoned: { zoneAffinity: true } });
  const zoneView = (flavour: (typeof FLAVOURS)[number], zone?: string): View =>
    viewOf({ flavour, labels: labels(zone === undefined ? {} : { zone }) }, catalog);

  it('reads the zone label only because a policy asks for zone affinity', () => {
    assert.deepEqual(callerRouting(catalog).keys, ['zone']);
    assert.equal(viewOf({ flavour: 'grpc', labels: labels({ zone: 'z1' }) }, catalogOf(ZONED)).key, 'grpc');
  });

  it('puts the caller zone at priority 0 and the rest at 1, per cluster (golden)', () => {
    assertGolden('zone-affinity-z1', dump(translateFor(zoneView('grpc', 'z1'), catalog)));
  });

  it('changes nothing for a client without a zone, or in a zone without serving instances', () => {
    const plain = dump(translateFor('grpc', catalog));
    assert.deepEqual(dump(translateFor(zoneView('grpc'), catalog)), plain);
    assert.deepEqual(dump(translateFor(zoneView('grpc', 'z9'), catalog)), plain);
    // v2's only z1 instance drains: for the v2 cluster z1 has no serving instance, so its CLA is
    // the plain one, while the service's and v1's are not.
    const z1 = Snapshot.encode(translateFor(zoneView('grpc', 'z1'), catalog), new AliasEncodings());
    const base = Snapshot.encode(translateFor('grpc', catalog), new AliasEncodings());
    assert.equal(z1.get(ENDPOINT, 'zoned/v2')?.version, base.get(ENDPOINT, 'zoned/v2')?.version);
    assert.notEqual(z1.get(ENDPOINT, 'zoned/v1')?.version, base.get(ENDPOINT, 'zoned/v1')?.version);
    assert.notEqual(z1.get(ENDPOINT, 'zoned')?.version, base.get(ENDPOINT, 'zoned')?.version);
  });

  for (const flavour of FLAVOURS) {
    it(`is the plain snapshot with the zone's endpoints overridden, byte for byte (${flavour})`, () => {
      for (const zone of [undefined, 'z1', 'z2', 'z9']) {
        const view = zoneView(flavour, zone);
        assertSameSnapshot(
          overlaid(catalog, view),
          Snapshot.encode(translateFor(view, catalog), new AliasEncodings()),
        );
      }
    });
  }
});
