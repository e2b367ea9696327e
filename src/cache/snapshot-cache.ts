// Holds the current Snapshot of each client flavour in use, rebuilds them from new Catalogs
// (coalescing bursts), and tells subscribers what changed.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import { PUSH_ORDER } from '../proto/xds-types';
import type { Catalog } from '../registry/catalog';
import type { Flavour } from '../translate/flavours';
import type { ResourceSet } from '../translate/resource-set';
import { systemClock, type Clock } from './clock';
import { Debouncer } from './debouncer';
import { AliasEncodings, diffSnapshots, Snapshot, type ChangeSet } from './snapshot';

export interface SnapshotCacheOptions {
  readonly translate: (flavour: Flavour, catalog: Catalog) => ResourceSet;
  /** Wait for etcd events to pause this long before rebuilding. */
  readonly debounceMs: number;
  /** …but rebuild no later than this after the first pending change. */
  readonly maxDelayMs: number;
  readonly clock?: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export type SnapshotListener = (
  flavour: Flavour,
  snapshot: Snapshot,
  changes: ChangeSet,
  previous: Snapshot | undefined,
) => void;

/** The flavour whose snapshot decides readiness and is always built. */
export const PRIMARY_FLAVOUR: Flavour = 'grpc';

export class SnapshotCache {
  private readonly snapshots = new Map<Flavour, Snapshot>();
  /** The catalog behind the current snapshots. */
  private catalog: Catalog | undefined;
  private pendingCatalog: Catalog | undefined;
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

  /** The snapshot being served to a flavour; undefined until the first catalog is translated. */
  current(flavour: Flavour = PRIMARY_FLAVOUR): Snapshot | undefined {
    const snapshot = this.snapshots.get(flavour);
    if (snapshot !== undefined || this.catalog === undefined) return snapshot;
    // First client of this flavour: translate the current catalog for it, and keep doing so.
    const built = this.build(flavour, this.catalog);
    this.snapshots.set(flavour, built);
    return built;
  }

  /** The snapshot of a flavour if some client made it be built; never starts building one. */
  peek(flavour: Flavour): Snapshot | undefined {
    return this.snapshots.get(flavour);
  }

  /** Stops building a flavour no client uses any more (the primary one is always built). */
  release(flavour: Flavour): void {
    if (flavour !== PRIMARY_FLAVOUR) this.snapshots.delete(flavour);
  }

  /** Flavours currently built and kept up to date. */
  flavours(): Flavour[] {
    return [...this.snapshots.keys()];
  }

  /** Accepts a new catalog. The first one is translated at once; later ones are coalesced. */
  setCatalog(catalog: Catalog): void {
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

  private rebuild(): void {
    const catalog = this.pendingCatalog;
    if (catalog === undefined) return;
    this.pendingCatalog = undefined;
    const observedAt = this.pendingSince;
    this.pendingSince = undefined;
    const first = this.catalog === undefined;
    this.catalog = catalog;
    const { metrics, logger } = this.options;
    metrics.snapshots.inc();
    metrics.catalogRevision.set(catalog.revision);
    const flavours: Flavour[] = first ? [PRIMARY_FLAVOUR] : [...this.snapshots.keys()];
    for (const flavour of flavours) {
      const previous = this.snapshots.get(flavour);
      const next = this.build(flavour, catalog, observedAt);
      const changes = diffSnapshots(previous, next);
      this.snapshots.set(flavour, next);
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
      if (previous !== undefined && changes.size === 0) continue;
      for (const listener of this.listeners) listener(flavour, next, changes, previous);
    }
  }

  private build(flavour: Flavour, catalog: Catalog, observedAt?: number): Snapshot {
    const stopTimer = this.options.metrics.snapshotBuildSeconds.startTimer();
    const snapshot = Snapshot.encode(this.options.translate(flavour, catalog), this.aliases, observedAt);
    stopTimer();
    return snapshot;
  }
}
