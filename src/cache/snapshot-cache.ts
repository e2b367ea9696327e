// Holds the current Snapshot of each view in use, rebuilds them from new Catalogs (coalescing
// bursts), and tells subscribers what changed.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import { PUSH_ORDER, type XdsType } from '../proto/xds-types';
import type { Catalog } from '../registry/catalog';
import type { Flavour, Translator } from '../translate/flavours';
import type { Resource } from '../translate/resource-set';
import {
  callerRouting,
  clientKey,
  plainView,
  viewOf,
  type CallerRouting,
  type Client,
  type View,
} from '../translate/view';
import { systemClock, type Clock } from './clock';
import { Debouncer } from './debouncer';
import { AliasEncodings, diffSnapshots, diffViews, Snapshot, type ChangeSet } from './snapshot';

export interface SnapshotCacheOptions {
  readonly translator: Translator;
  /** Wait for etcd events to pause this long before rebuilding. */
  readonly debounceMs: number;
  /** …but rebuild no later than this after the first pending change. */
  readonly maxDelayMs: number;
  readonly clock?: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** Told, per group of clients (a client key), the snapshot it is served now and what changed. */
export type SnapshotListener = (
  clientKey: string,
  snapshot: Snapshot,
  changes: ChangeSet,
  previous: Snapshot | undefined,
) => void;

/** The flavour whose snapshot decides readiness and is always built. */
export const PRIMARY_FLAVOUR: Flavour = 'grpc';

/** Clients that declared the same flavour and labels, served one snapshot. */
interface ClientGroup {
  readonly client: Client;
  /** Streams of this group (acquire/release). */
  refs: number;
  /** What the group is served now; undefined before the first catalog. */
  snapshot: Snapshot | undefined;
  /** Its view, and the caller label keys policies read when it was decided. */
  view: { readonly keys: readonly string[]; readonly view: View } | undefined;
}

/** What the cache keeps of a view with caller labels from one rebuild to the next. */
interface ViewState {
  /** The caller-routing signature its overrides were made under. */
  readonly signature: string;
  /** Its overrides: the resources that differ from its flavour's plain snapshot. */
  readonly resources: readonly Resource[];
  /** The names of `resources` by type (a change of other types is passed over in one lookup). */
  readonly names: ReadonlyMap<XdsType, ReadonlySet<string>>;
  /** Its latest snapshot: the plain snapshot of that time with `resources` over it. */
  snapshot: Snapshot;
}

/** What a flavour's plain snapshot changed in a rebuild. */
interface PlainChange {
  readonly from: Snapshot;
  readonly changes: ChangeSet;
}

/** A view's snapshot in a rebuild, and the one it follows with only its plain snapshot's changes. */
interface ViewSnapshot {
  readonly snapshot: Snapshot;
  /** Its view's last snapshot when this one is that rebased (or the plain one's successor). */
  readonly follows: Snapshot | undefined;
}

/**
 * Holds the snapshot of every view in use and rebuilds them from new Catalogs (coalescing
 * bursts). Per flavour in use it keeps one plain snapshot; a view that gets caller routes is that
 * snapshot with the few resources that differ (Snapshot.withOverrides), so views cost what they
 * differ in; a change that touches none of those resources moves the view onto the new plain
 * snapshot as it is (Snapshot.rebased), and its clients are told the plain changes. Clients are
 * grouped by what they declared (client key); a group's view is decided again with every catalog,
 * as the labels that policies read change.
 */
export class SnapshotCache {
  /** The plain snapshot of each flavour in use. */
  private readonly plain = new Map<Flavour, Snapshot>();
  private readonly groups = new Map<string, ClientGroup>();
  /** Per key of a view with caller labels: its overrides and its latest snapshot. */
  private readonly views = new Map<string, ViewState>();
  /** The catalog behind the current snapshots. */
  private catalog: Catalog | undefined;
  private pendingCatalog: Catalog | undefined;
  /**
   * The services the pending catalog changes against the translated one (`catalog`), when every
   * catalog in between said what it changed; undefined: unknown, translate everything.
   */
  private pendingChanges: Set<string> | undefined;
  /** When the oldest change not yet in a snapshot was seen. */
  private pendingSince: number | undefined;
  private readonly debouncer: Debouncer;
  private readonly listeners = new Set<SnapshotListener>();
  private readonly aliases = new AliasEncodings();

  constructor(private readonly options: SnapshotCacheOptions) {
    this.debouncer = new Debouncer(options.clock ?? systemClock, options.debounceMs, options.maxDelayMs, () =>
      this.rebuild(),
    );
  }

  /** The plain snapshot of a flavour; undefined until the first catalog is translated. */
  current(flavour: Flavour = PRIMARY_FLAVOUR): Snapshot | undefined {
    return this.plainSnapshot(flavour);
  }

  /** The plain snapshot of a flavour if some client made it be built; never starts building one. */
  peek(flavour: Flavour): Snapshot | undefined {
    return this.plain.get(flavour);
  }

  /** Flavours currently built and kept up to date. */
  flavours(): Flavour[] {
    return [...this.plain.keys()];
  }

  /** How many distinct views the connected clients are served now. */
  viewCount(): number {
    const keys = new Set<Snapshot>();
    for (const group of this.groups.values()) if (group.snapshot !== undefined) keys.add(group.snapshot);
    return keys.size;
  }

  /**
   * Starts serving a client (one stream); returns the key of its group, which names it to
   * `served`, `release` and listeners. Balanced by `release`.
   */
  acquire(client: Client): string {
    const key = clientKey(client);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = { client, refs: 0, snapshot: undefined, view: undefined };
      this.groups.set(key, group);
      if (this.catalog !== undefined) group.snapshot = this.snapshotOf(this.groupView(group, this.catalog));
    }
    group.refs++;
    return key;
  }

  /** The snapshot a group of clients is served; undefined before the first catalog. */
  served(key: string): Snapshot | undefined {
    return this.groups.get(key)?.snapshot;
  }

  /** One stream of the group left; the last one's leaving drops what only it needed. */
  release(key: string): void {
    const group = this.groups.get(key);
    if (group === undefined || --group.refs > 0) return;
    this.groups.delete(key);
    const flavour = group.client.flavour;
    if (flavour === PRIMARY_FLAVOUR) return;
    for (const other of this.groups.values()) if (other.client.flavour === flavour) return;
    this.plain.delete(flavour);
  }

  /**
   * The snapshot of any view under the current catalog, built now if no client has it (explain and
   * admin ask for hypothetical clients this way); undefined before the first catalog.
   */
  snapshotOf(view: View): Snapshot | undefined {
    if (this.catalog === undefined) return undefined;
    for (const group of this.groups.values()) {
      if (group.snapshot !== undefined && group.view?.view.key === view.key) return group.snapshot;
    }
    return this.viewSnapshot(this.catalog, callerRouting(this.catalog), view).snapshot;
  }

  /** The catalog the current snapshots were translated from. */
  translatedCatalog(): Catalog | undefined {
    return this.catalog;
  }

  /** The view a client would have under the current catalog. */
  viewOf(client: Client): View | undefined {
    return this.catalog === undefined ? undefined : viewOf(client, this.catalog);
  }

  /** Accepts a new catalog. The first one is translated at once; later ones are coalesced. */
  setCatalog(catalog: Catalog): void {
    const base = this.pendingCatalog ?? this.catalog;
    const follows = base !== undefined && catalog.changes?.from === base.id;
    if (!follows) this.pendingChanges = undefined;
    else if (this.pendingCatalog === undefined) this.pendingChanges = new Set(catalog.changes.services);
    else if (this.pendingChanges !== undefined)
      for (const service of catalog.changes.services) this.pendingChanges.add(service);
    this.pendingCatalog = catalog;
    if (catalog.observedAt !== undefined)
      this.pendingSince = Math.min(this.pendingSince ?? Infinity, catalog.observedAt);
    if (this.catalog === undefined) this.rebuild();
    else this.debouncer.poke();
  }

  /** Translates any pending catalog now. */
  flush(): void {
    this.debouncer.flush();
  }

  subscribe(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.debouncer.cancel();
    this.listeners.clear();
  }

  private plainSnapshot(flavour: Flavour): Snapshot | undefined {
    const snapshot = this.plain.get(flavour);
    if (snapshot !== undefined || this.catalog === undefined) return snapshot;
    // First client of this flavour: translate the current catalog for it, and keep doing so.
    const built = this.build(flavour, this.catalog);
    this.plain.set(flavour, built);
    return built;
  }

  private rebuild(): void {
    const catalog = this.pendingCatalog;
    if (catalog === undefined) return;
    const changed = this.pendingChanges;
    this.pendingCatalog = undefined;
    this.pendingChanges = undefined;
    const observedAt = this.pendingSince;
    this.pendingSince = undefined;
    const first = this.catalog === undefined;
    this.catalog = catalog;
    const { metrics, logger } = this.options;
    const stopTimer = metrics.rebuildSeconds.startTimer();
    metrics.snapshots.inc();
    metrics.catalogRevision.set(catalog.revision);

    const flavours = new Set<Flavour>(first ? [PRIMARY_FLAVOUR] : this.plain.keys());
    for (const group of this.groups.values()) flavours.add(group.client.flavour);
    const plainChanges = new Map<Flavour, PlainChange | undefined>();
    for (const flavour of flavours) {
      const previous = this.plain.get(flavour);
      const { snapshot: next, changes } = this.buildFrom(previous, changed, flavour, catalog, observedAt);
      this.plain.set(flavour, next);
      plainChanges.set(flavour, previous === undefined ? undefined : { from: previous, changes });
      if (flavour === PRIMARY_FLAVOUR) {
        for (const type of PUSH_ORDER) metrics.resources.set({ type: type.short }, next.count(type));
      }
      logger.debug(
        {
          flavour,
          revision: catalog.revision,
          changes: Object.fromEntries(
            [...changes].map(([type, c]) => [type.short, c.updated.size + c.removed.size]),
          ),
        },
        'snapshot built',
      );
    }

    // Each group's view again (the labels policies read may have changed), one snapshot per view,
    // and one diff per pair of snapshots (most groups share both). A group that had its view's
    // last snapshot, now rebased, is told the plain changes: no diff.
    const routing = callerRouting(catalog);
    const views = new Map<string, ViewSnapshot>();
    const diffs = new Map<Snapshot, { readonly next: Snapshot; readonly changes: ChangeSet }>();
    for (const [key, group] of this.groups) {
      const view = this.groupView(group, catalog, routing);
      const plainChange = plainChanges.get(view.flavour);
      let built = views.get(view.key);
      if (built === undefined) {
        built = this.viewSnapshot(catalog, routing, view, plainChange);
        views.set(view.key, built);
      }
      const next = built.snapshot;
      const previous = group.snapshot;
      group.snapshot = next;
      let changes: ChangeSet | undefined;
      if (previous === undefined) changes = undefined;
      else if (previous === built.follows) changes = plainChange!.changes;
      else {
        let diff = diffs.get(previous);
        if (diff?.next !== next) {
          const rootChanges = plainChange?.changes ?? diffSnapshots(previous.root, next.root);
          diff = { next, changes: diffViews(previous, next, rootChanges) };
          diffs.set(previous, diff);
        }
        changes = diff.changes;
      }
      if (changes?.size === 0) continue;
      for (const listener of this.listeners)
        listener(key, next, changes ?? diffSnapshots(undefined, next), previous);
    }
    metrics.views.set(views.size);
    for (const key of this.views.keys()) if (!views.has(key)) this.views.delete(key);
    stopTimer();
  }

  /** A group's view under `catalog`, decided again only when the label keys policies read change. */
  private groupView(group: ClientGroup, catalog: Catalog, { keys } = callerRouting(catalog)): View {
    if (group.view === undefined || !sameStrings(group.view.keys, keys))
      group.view = { keys, view: viewOf(group.client, catalog) };
    return group.view.view;
  }

  /**
   * A view's snapshot: its flavour's plain one with the view's overrides. The overrides are kept
   * from the last rebuild while nothing they depend on changed (gRPC views; Envoy's one route
   * configuration holds every service, so it is asked for each time). When, besides, the plain
   * snapshot changed (`plainChange`, since the view's last snapshot) in none of the names they
   * override, the view's last snapshot is rebased onto the new plain one: a change that no caller
   * route depends on costs each view that check and no encoding, lookup or comparison.
   */
  private viewSnapshot(
    catalog: Catalog,
    { signature }: CallerRouting,
    view: View,
    plainChange?: PlainChange,
  ): ViewSnapshot {
    const plain = this.plainSnapshot(view.flavour)!;
    if (view.labels.size === 0) return { snapshot: plain, follows: plainChange?.from };
    const kept = this.views.get(view.key);
    if (kept === undefined || kept.signature !== signature || view.flavour === 'envoy') {
      const resources = this.options.translator.overrides(catalog, view);
      const snapshot = plain.withOverrides(resources);
      this.views.set(view.key, { signature, resources, names: namesByType(resources), snapshot });
      return { snapshot, follows: undefined };
    }
    const last = kept.snapshot;
    if (last.root === plain) return { snapshot: last, follows: undefined };
    if (plainChange?.from === last.root && !overridesChanged(kept.names, plainChange.changes)) {
      kept.snapshot = last.rebased(plain);
      return { snapshot: kept.snapshot, follows: last };
    }
    kept.snapshot = plain.withOverrides(kept.resources);
    return { snapshot: kept.snapshot, follows: undefined };
  }

  /**
   * A flavour's plain snapshot of `catalog` and what changed since `previous`, that of the
   * translated catalog: from `previous` and the `changed` services alone when known (costs what
   * changed), else translated and compared in full.
   */
  private buildFrom(
    previous: Snapshot | undefined,
    changed: ReadonlySet<string> | undefined,
    flavour: Flavour,
    catalog: Catalog,
    observedAt: number | undefined,
  ): { snapshot: Snapshot; changes: ChangeSet } {
    if (previous !== undefined && changed !== undefined) {
      const stopTimer = this.options.metrics.snapshotBuildSeconds.startTimer();
      const update = this.options.translator.update(previous.resourceSet, catalog, flavour, changed);
      if (update !== undefined) {
        const built = Snapshot.update(previous, update.resources, update.touched, observedAt);
        stopTimer();
        return built;
      }
    }
    const snapshot = this.build(flavour, catalog, observedAt);
    // A first snapshot's changes (everything) are not read: its clients, if any, are told by
    // the listener call that has no previous snapshot. Listing every name costs 0.4 s at 100,000
    // services.
    return { snapshot, changes: previous === undefined ? new Map() : diffSnapshots(previous, snapshot) };
  }

  private build(flavour: Flavour, catalog: Catalog, observedAt?: number): Snapshot {
    const stopTimer = this.options.metrics.snapshotBuildSeconds.startTimer();
    const snapshot = Snapshot.encode(
      this.options.translator.translate(catalog, plainView(flavour)),
      this.aliases,
      observedAt,
    );
    stopTimer();
    return snapshot;
  }
}

/**
 * Whether `changes` name any of the resources a view overrides (`overridden`, by type). Walks the
 * changes, usually of one or two types none of which the view overrides.
 */
function overridesChanged(
  overridden: ReadonlyMap<XdsType, ReadonlySet<string>>,
  changes: ChangeSet,
): boolean {
  for (const [type, { updated, removed }] of changes) {
    const names = overridden.get(type);
    if (names === undefined) continue;
    for (const name of updated) if (names.has(name)) return true;
    for (const name of removed) if (names.has(name)) return true;
  }
  return false;
}

function namesByType(resources: readonly Resource[]): Map<XdsType, Set<string>> {
  const names = new Map<XdsType, Set<string>>();
  for (const { type, name } of resources) {
    let set = names.get(type);
    if (set === undefined) names.set(type, (set = new Set()));
    set.add(name);
  }
  return names;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((value, i) => value === b[i]));
}
