// The incremental pipeline (issue: one change costs what changed) must give exactly what a full
// translation gives: after every random change to a catalog, the snapshot built from the previous
// one and the changed services has the same resources, versions and type versions as one
// translated from scratch, and reports the same changes as a full diff.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import {
  AliasEncodings,
  composeChanges,
  diffSnapshots,
  Snapshot,
  type ChangeSet,
} from '../../../src/cache/snapshot';
import { SnapshotCache, type SnapshotCacheOptions } from '../../../src/cache/snapshot-cache';
import { Metrics } from '../../../src/metrics';
import { PUSH_ORDER } from '../../../src/proto/xds-types';
import { CatalogBuilder, type Catalog } from '../../../src/registry/catalog';
import {
  DEFAULT_TRANSLATE_SETTINGS,
  translator,
  type Flavour,
  type Translator,
} from '../../../src/translate/flavours';
import { plainView } from '../../../src/translate/view';
import { random } from '../fixtures';

const POLICIES: readonly object[] = [
  { lbPolicy: 'least_request', timeout: '2s' },
  { lbPolicy: 'ring_hash', hashHeader: 'x-user' },
  { defaultVersion: 'v2', retry: { on: ['unavailable'], attempts: 3 } },
  { weights: { v1: 1, v2: 3 } },
  { routes: [{ match: { caller: { service: 'app' } }, version: 'v2' }] },
  { zoneAffinity: true },
];

/** Applies 1–4 random registrations, deletions, policies or bad values to every builder alike. */
function randomChange(builders: CatalogBuilder | CatalogBuilder[], next: () => number): void {
  const all = Array.isArray(builders) ? builders : [builders];
  for (let i = 0, n = 1 + Math.floor(next() * 4); i < n; i++) {
    const service = `svc-${Math.floor(next() * 12)}`;
    const id = `i${Math.floor(next() * 4)}`;
    const roll = next();
    const value = JSON.stringify({
      name: service,
      id,
      version: next() < 0.5 ? 'v1' : 'v2',
      address: `10.0.${service.slice(4)}.${id.slice(1)}:${80 + Math.floor(next() * 2)}`,
      zone: next() < 0.5 ? 'z1' : 'z2',
    });
    const policy = JSON.stringify(POLICIES[Math.floor(next() * POLICIES.length)]);
    for (const builder of all) {
      if (roll < 0.45) builder.putRegistration(`/services/${service}/${id}`, value);
      else if (roll < 0.7) builder.deleteRegistration(`/services/${service}/${id}`);
      else if (roll < 0.85) builder.putPolicy(`/xds/policies/${service}`, policy);
      else if (roll < 0.95) builder.deletePolicy(`/xds/policies/${service}`);
      else builder.putRegistration(`/services/${service}/bad`, '{not json');
    }
  }
}

/** A cache that translates every catalog at once (no debounce), with `translator`. */
function cacheOptions(translator: Translator): SnapshotCacheOptions {
  return {
    translator,
    debounceMs: 0,
    maxDelayMs: 0,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
  };
}

function assertSameSnapshot(actual: Snapshot, expected: Snapshot, label: string): void {
  for (const type of PUSH_ORDER) {
    const versions = (snapshot: Snapshot): [string, string][] =>
      [...snapshot.all(type)].map((resource) => [resource.name, resource.version]);
    assert.deepEqual(versions(actual), versions(expected), `${label}: ${type.short} resources`);
    assert.equal(actual.typeVersion(type), expected.typeVersion(type), `${label}: ${type.short} version`);
    assert.equal(actual.count(type), expected.count(type));
  }
}

function plainChanges(changes: ChangeSet): object {
  return Object.fromEntries(
    [...changes].map(([type, { updated, removed }]) => [
      type.short,
      { updated: [...updated].sort(), removed: [...removed].sort() },
    ]),
  );
}

describe('the incremental pipeline', () => {
  const translate = translator(DEFAULT_TRANSLATE_SETTINGS);
  const GRPC_FLAVOURS: Flavour[] = ['grpc', 'grpc-least-request', 'grpc-c-core', 'grpc-no-ring-hash'];

  it('catalogs say which services changed, and the rest are the same objects', () => {
    const builder = new CatalogBuilder('/xds/policies/');
    const next = random(3);
    let previous: Catalog = builder.snapshot(1);
    assert.equal(previous.changes, undefined);
    for (let step = 0; step < 200; step++) {
      randomChange(builder, next);
      const catalog = builder.snapshot(step + 2);
      assert.equal(catalog.changes?.from, previous.id);
      const names = new Set([...previous.services.keys(), ...catalog.services.keys()]);
      for (const name of names) {
        if (catalog.changes.services.has(name)) continue;
        assert.equal(
          catalog.services.get(name),
          previous.services.get(name),
          `${name} is not listed as changed`,
        );
      }
      assert.deepEqual(
        [...catalog.callerRouted.keys()],
        [...catalog.services.values()].filter((s) => s.policy.callerKeys.length > 0).map((s) => s.name),
      );
      previous = catalog;
    }
  });

  for (const flavour of GRPC_FLAVOURS) {
    it(`${flavour}: every update equals a full translation and a full diff`, () => {
      const builder = new CatalogBuilder('/xds/policies/');
      const next = random(flavour.length);
      randomChange(builder, next);
      let catalog = builder.snapshot(1);
      let snapshot = Snapshot.encode(translate.translate(catalog, plainView(flavour)), new AliasEncodings());
      // The step before: composing its changes with this step's must equal a diff across both.
      let before: { snapshot: Snapshot; changes: ChangeSet } | undefined;
      // Type versions computed on some snapshots only: updates must work from either.
      for (let step = 0; step < 150; step++) {
        if (next() < 0.5) for (const type of PUSH_ORDER) snapshot.typeVersion(type);
        randomChange(builder, next);
        const nextCatalog = builder.snapshot(step + 2);
        const update = translate.update(
          snapshot.resourceSet,
          nextCatalog,
          flavour,
          nextCatalog.changes!.services,
        );
        assert.ok(update !== undefined);
        const { snapshot: updated, changes } = Snapshot.update(snapshot, update.resources, update.touched);
        const full = Snapshot.encode(
          translate.translate(nextCatalog, plainView(flavour)),
          new AliasEncodings(),
        );
        assertSameSnapshot(updated, full, `step ${step}`);
        assert.deepEqual(
          plainChanges(changes),
          plainChanges(diffSnapshots(snapshot, full)),
          `step ${step}: changes`,
        );
        if (before !== undefined)
          assert.deepEqual(
            plainChanges(composeChanges(before.snapshot, before.changes, changes, updated)),
            plainChanges(diffSnapshots(before.snapshot, updated)),
            `step ${step}: composed changes`,
          );
        before = { snapshot, changes };
        catalog = nextCatalog;
        snapshot = updated;
      }
      assert.ok(catalog.services.size > 0);
    });
  }

  it('the cache, fed catalogs faster than it translates (coalesced), serves what a fresh cache does', () => {
    // Counts which way the cache went: updates from the changed services, or full translations.
    const ways = { updated: 0, translated: 0 };
    const counting: Translator = {
      ...translate,
      translate(catalog, view) {
        ways.translated++;
        return translate.translate(catalog, view);
      },
      update(...args) {
        const update = translate.update(...args);
        if (update !== undefined) ways.updated++;
        return update;
      },
    };
    const options = () => cacheOptions(counting);
    const cache = new SnapshotCache(options());
    // A second builder fed the same changes stands for a re-list: its catalogs do not follow the
    // first one's, so the cache must translate them in full.
    const builders = [new CatalogBuilder('/xds/policies/'), new CatalogBuilder('/xds/policies/')];
    const next = random(11);
    randomChange(builders, next);
    cache.setCatalog(builders[0].snapshot(1));
    const keys = (['grpc', 'grpc-c-core', 'envoy'] as const).map((flavour) =>
      cache.acquire({ flavour, labels: new Map([['service', 'app']]) }),
    );
    let revision = 1;
    for (let step = 0; step < 60; step++) {
      // 1–3 catalogs before each translation; sometimes one that does not follow (a re-list).
      for (let i = 0, n = 1 + Math.floor(next() * 3); i < n; i++) {
        randomChange(builders, next);
        revision++;
        const [catalog, relisted] = builders.map((builder) => builder.snapshot(revision));
        cache.setCatalog(next() < 0.05 ? relisted : catalog);
      }
      cache.flush();
      const fresh = new SnapshotCache(options());
      fresh.setCatalog(cache.translatedCatalog()!);
      for (const [i, flavour] of (['grpc', 'grpc-c-core', 'envoy'] as const).entries()) {
        const client = { flavour, labels: new Map([['service', 'app']]) };
        fresh.acquire(client);
        const view = cache.viewOf(client)!;
        assertSameSnapshot(
          cache.snapshotOf(view)!,
          fresh.snapshotOf(fresh.viewOf(client)!)!,
          `step ${step} ${flavour}`,
        );
        assert.ok(keys[i] !== undefined);
      }
      fresh.close();
    }
    cache.close();
    // Most catalogs followed the previous one (updated); the first, the re-lists, Envoy and the
    // fresh caches were translated in full.
    assert.ok(ways.updated > 100, JSON.stringify(ways));
    assert.ok(ways.translated > 60, JSON.stringify(ways));
  });

  it('every group with caller labels is served its view and told exactly what changed for it', (t) => {
    // Views are rebased onto the new plain snapshot when a change touches none of their
    // overrides: what each group gets must still be its view's full translation, and the changes
    // it is told a full diff from what it had.
    const rebased = t.mock.method(Snapshot.prototype, 'rebased');
    const cache = new SnapshotCache({
      translator: translate,
      debounceMs: 0,
      maxDelayMs: 0,
      logger: pino({ level: 'silent' }),
      metrics: new Metrics(),
    });
    const told = new Map<
      string,
      { snapshot: Snapshot; changes: ChangeSet; previous: Snapshot | undefined }
    >();
    cache.subscribe((key, snapshot, changes, previous) => told.set(key, { snapshot, changes, previous }));
    const builder = new CatalogBuilder('/xds/policies/');
    const next = random(17);
    randomChange(builder, next);
    cache.setCatalog(builder.snapshot(1));
    const clients = (['grpc', 'grpc-c-core', 'envoy'] as const).flatMap((flavour) =>
      [{ service: 'app' }, { service: 'app', zone: 'z1' }, { zone: 'z2' }, {}].map((labels) => ({
        flavour,
        labels: new Map(Object.entries(labels)),
      })),
    );
    const keys = clients.map((client) => cache.acquire(client));
    for (let step = 0; step < 150; step++) {
      const served = new Map(keys.map((key) => [key, cache.served(key)!]));
      told.clear();
      randomChange(builder, next);
      cache.setCatalog(builder.snapshot(step + 2));
      cache.flush();
      const fresh = new SnapshotCache({
        translator: translate,
        debounceMs: 0,
        maxDelayMs: 0,
        logger: pino({ level: 'silent' }),
        metrics: new Metrics(),
      });
      fresh.setCatalog(cache.translatedCatalog()!);
      for (const [i, client] of clients.entries()) {
        const label = `step ${step} ${client.flavour} ${JSON.stringify([...client.labels])}`;
        const previous = served.get(keys[i])!;
        const current = cache.served(keys[i])!;
        fresh.acquire(client);
        assertSameSnapshot(current, fresh.snapshotOf(fresh.viewOf(client)!)!, label);
        const full = plainChanges(diffSnapshots(previous, current));
        const message = told.get(keys[i]);
        if (message === undefined) assert.deepEqual(full, {}, `${label}: not told`);
        else {
          assert.equal(message.snapshot, current, label);
          assert.equal(message.previous, previous, label);
          assert.deepEqual(plainChanges(message.changes), full, `${label}: changes`);
        }
      }
      fresh.close();
    }
    cache.close();
    assert.ok(rebased.mock.callCount() > 50, `rebased ${rebased.mock.callCount()} times`);
  });
});
