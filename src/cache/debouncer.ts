// Coalesces bursts of changes without delaying an isolated one: a change that comes after a quiet
// spell (no firing for `quietMs`) fires on the next tick; changes that follow within `quietMs`
// of a firing are held until they pause for `quietMs`, and never later than `maxDelayMs` after
// the first one held.

import type { Clock } from './clock';

export class Debouncer {
  private firstPokeAt: number | undefined;
  private lastFiredAt = -Infinity;
  private timer: unknown;
  /** Whether the pending firing is a leading edge (on the next tick). */
  private leading = false;

  constructor(
    private readonly clock: Clock,
    private readonly quietMs: number,
    private readonly maxDelayMs: number,
    private readonly fire: () => void,
  ) {
    if (quietMs < 0 || maxDelayMs < quietMs) {
      throw new RangeError(`debounce needs 0 <= quietMs (${quietMs}) <= maxDelayMs (${maxDelayMs})`);
    }
  }

  /** Records a change. */
  poke(): void {
    const now = this.clock.now();
    if (this.firstPokeAt === undefined) {
      this.firstPokeAt = now;
      // The leading edge: nothing fired lately, so this change is not part of a burst (yet). It
      // still waits for the next tick, so the changes of one etcd watch response go together.
      if (now - this.lastFiredAt >= this.quietMs) {
        this.schedule(0);
        return;
      }
    } else if (this.leading) {
      return;
    }
    const deadline = this.firstPokeAt + this.maxDelayMs;
    this.schedule(Math.max(0, Math.min(now + this.quietMs, deadline) - now));
  }

  /** Fires now if a change is pending. */
  flush(): void {
    if (this.firstPokeAt === undefined) return;
    this.cancel();
    this.fireNow();
  }

  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.firstPokeAt = undefined;
    this.leading = false;
  }

  get pending(): boolean {
    return this.firstPokeAt !== undefined;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.leading = delayMs === 0;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.firstPokeAt = undefined;
      this.leading = false;
      this.fireNow();
    }, delayMs);
  }

  private fireNow(): void {
    this.lastFiredAt = this.clock.now();
    this.fire();
  }
}
