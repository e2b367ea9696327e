// Holds the current Snapshot, rebuilds it from new Catalogs (coalescing bursts), and tells
// subscribers what changed.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import { PUSH_ORDER } from '../proto/xds-types';
import type { Catalog } from '../registry/catalog';
import type { ResourceSet } from '../translate/resource-set';
import { systemClock, type Clock } from './clock';
import { Debouncer } from './debouncer';
import { AliasEncodings, diffSnapshots, Snapshot, type ChangeSet } from './snapshot';

export interface SnapshotCacheOptions {
  readonly translate: (catalog: Catalog) => ResourceSet;
  /** Wait for etcd events to pause this long before rebuilding. */
  readonly debounceMs: number;
  /** …but rebuild no later than this after the first pending change. */
  readonly maxDelayMs: number;
  readonly clock?: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export type SnapshotListener = (snapshot: Snapshot, changes: ChangeSet) => void;

export class SnapshotCache {
  private snapshot: Snapshot | undefined;
  private pendingCatalog: Catalog | undefined;
  private readonly debouncer: Debouncer;
  private readonly listeners = new Set<SnapshotListener>();
  private readonly aliases = new AliasEncodings();

  constructor(private readonly options: SnapshotCacheOptions) {
    this.debouncer = new Debouncer(options.clock ?? systemClock, options.debounceMs, options.maxDelayMs, () =>
      this.rebuild(),
    );
  }

  /** The snapshot being served; undefined until the first catalog is translated. */
  current(): Snapshot | undefined {
    return this.snapshot;
  }

  /** Accepts a new catalog. The first one is translated at once; later ones are coalesced. */
  setCatalog(catalog: Catalog): void {
    this.pendingCatalog = catalog;
    if (this.snapshot === undefined) this.rebuild();
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
    const { metrics, logger } = this.options;
    const stopTimer = metrics.snapshotBuildSeconds.startTimer();
    const previous = this.snapshot;
    const next = Snapshot.encode(this.options.translate(catalog), this.aliases);
    const changes = diffSnapshots(previous, next);
    stopTimer();
    this.snapshot = next;
    metrics.snapshots.inc();
    metrics.catalogRevision.set(catalog.revision);
    for (const type of PUSH_ORDER) metrics.resources.set({ type: type.short }, next.count(type));
    logger.debug(
      {
        revision: catalog.revision,
        changes: Object.fromEntries(
          [...changes].map(([type, c]) => [type.short, c.updated.size + c.removed.size]),
        ),
      },
      'snapshot built',
    );
    if (previous !== undefined && changes.size === 0) return;
    for (const listener of this.listeners) listener(next, changes);
  }
}
