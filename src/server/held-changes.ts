// Snapshot changes a stream has not been sent yet (its client is not reading, or is backing off
// after NACKs), merged so that it is later sent only the latest state: one response per type at
// most, never each push it missed.
import type { ChangeSet, TypeChanges } from '../cache/snapshot';
import type { XdsType } from '../proto/xds-types';

export class HeldChanges {
  private readonly byType = new Map<XdsType, { updated: Set<string>; removed: Set<string> }>();
  /** Pushes merged in so far. */
  pushes = 0;
  /** When the oldest etcd change held here was seen (performance.now()), if known. */
  observedAt: number | undefined;

  /** Adds a push's changes; a later change of a name wins over an earlier one. */
  merge(changes: ChangeSet, observedAt?: number): void {
    this.pushes++;
    if (observedAt !== undefined) this.observedAt = Math.min(this.observedAt ?? Infinity, observedAt);
    for (const [type, { updated, removed }] of changes) {
      let merged = this.byType.get(type);
      if (merged === undefined) {
        merged = { updated: new Set(), removed: new Set() };
        this.byType.set(type, merged);
      }
      for (const name of updated) {
        merged.updated.add(name);
        merged.removed.delete(name);
      }
      for (const name of removed) {
        merged.removed.add(name);
        merged.updated.delete(name);
      }
    }
  }

  /** The merged changes; types left with none are absent. */
  changes(): ChangeSet {
    const changes = new Map<XdsType, TypeChanges>();
    for (const [type, merged] of this.byType) {
      if (merged.updated.size > 0 || merged.removed.size > 0) changes.set(type, merged);
    }
    return changes;
  }
}
