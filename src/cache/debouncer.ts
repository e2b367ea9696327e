// Coalesces bursts of changes without delaying an isolated one: a change that comes after a quiet
// spell (no firing for `quietMs`) fires on the next tick; changes that follow within `quietMs`
// of a firing are held until they pause for `quietMs`, and never later than `maxDelayMs` after
// the first one held.

import type { Clock } from './clock';

export class Debouncer {
  private firstPokeAt: number | undefined;
  private lastFiredAt = -Infinity;
  private timer: unknown;

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
    const first = this.firstPokeAt === undefined;
    this.firstPokeAt ??= now;
    // The leading edge: the first change held came after a quiet spell, so it is not part of a
    // burst (yet). It still waits for the next tick, so the changes of one etcd watch response go
    // together; changes until then join it.
    if (this.firstPokeAt - this.lastFiredAt >= this.quietMs) {
      if (first) this.schedule(0);
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
  }

  get pending(): boolean {
    return this.firstPokeAt !== undefined;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.firstPokeAt = undefined;
      this.fireNow();
    }, delayMs);
  }

  private fireNow(): void {
    this.lastFiredAt = this.clock.now();
    this.fire();
  }
}
