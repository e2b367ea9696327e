// Coalesces bursts of changes: fires once the changes pause for `quietMs`, and never later than
// `maxDelayMs` after the first change it has not yet fired for.

import type { Clock } from './clock';

export class Debouncer {
  private firstPokeAt: number | undefined;
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
    this.firstPokeAt ??= now;
    const deadline = this.firstPokeAt + this.maxDelayMs;
    this.schedule(Math.max(0, Math.min(now + this.quietMs, deadline) - now));
  }

  /** Fires now if a change is pending. */
  flush(): void {
    if (this.firstPokeAt === undefined) return;
    this.cancel();
    this.fire();
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
      this.fire();
    }, delayMs);
  }
}
