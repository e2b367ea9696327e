// Slows down pushes to a client that keeps rejecting them. The rejected version is never resent
// anyway; this keeps a client stuck NACKing (version skew, a bug) from costing a push per change.
import type { ChangeSet, Snapshot, TypeChanges } from '../cache/snapshot';
import type { XdsType } from '../proto/xds-types';

export const NACK_BACKOFF_INITIAL_MS = 250;
export const NACK_BACKOFF_MAX_MS = 30_000;

export class NackBackoff {
  private streak = 0;
  private until = 0;
  private deferred:
    | {
        changes: Map<XdsType, { updated: Set<string>; removed: Set<string> }>;
        previous: Snapshot | undefined;
      }
    | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** A NACK: back off twice as long as after the previous one in a row. */
  nacked(now: number): void {
    this.streak++;
    this.until = now + Math.min(NACK_BACKOFF_INITIAL_MS * 2 ** (this.streak - 1), NACK_BACKOFF_MAX_MS);
  }

  /** An ACK ends the streak; anything deferred can go out now. */
  acked(): void {
    this.streak = 0;
    this.until = 0;
  }

  /** How long pushes must wait now (0: push at once). */
  delay(now: number): number {
    return Math.max(0, this.until - now);
  }

  /**
   * Holds a change back and arranges `flush` for when the backoff ends. Changes held back are
   * merged, later ones winning, and pushed against the snapshot before the first of them.
   */
  defer(changes: ChangeSet, previous: Snapshot | undefined, delayMs: number, flush: () => void): void {
    this.deferred ??= { changes: new Map(), previous };
    for (const [type, { updated, removed }] of changes) {
      let merged = this.deferred.changes.get(type);
      if (merged === undefined) {
        merged = { updated: new Set(), removed: new Set() };
        this.deferred.changes.set(type, merged);
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
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        flush();
      }, delayMs);
      this.timer.unref();
    }
  }

  /** What was held back, if anything, and forgets it. */
  take(): { changes: ChangeSet; previous: Snapshot | undefined } | undefined {
    const deferred = this.deferred;
    this.deferred = undefined;
    if (deferred === undefined) return undefined;
    const changes = new Map<XdsType, TypeChanges>();
    for (const [type, merged] of deferred.changes) {
      if (merged.updated.size > 0 || merged.removed.size > 0) changes.set(type, merged);
    }
    return { changes, previous: deferred.previous };
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.deferred = undefined;
  }
}
