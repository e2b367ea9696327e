// Slows down pushes to a client that keeps rejecting them. The rejected version is never resent
// anyway; this keeps a client stuck NACKing (version skew, a bug) from costing a push per change.
// What is not pushed meanwhile is held by the server (see HeldChanges) and sent when this ends.
import type { ObservedStream, RequestOutcome, XdsObserver } from './observer';

export const NACK_BACKOFF_INITIAL_MS = 250;
export const NACK_BACKOFF_MAX_MS = 30_000;

export class NackBackoff {
  private streak = 0;
  private until = 0;
  private timer: NodeJS.Timeout | undefined;

  /** A NACK: back off twice as long as after the previous one in a row. */
  nacked(now: number): void {
    this.streak++;
    this.until = now + Math.min(NACK_BACKOFF_INITIAL_MS * 2 ** (this.streak - 1), NACK_BACKOFF_MAX_MS);
  }

  /** An ACK ends the streak: pushes may go out at once. */
  acked(): void {
    this.streak = 0;
    this.until = 0;
    this.cancel();
  }

  /** How long pushes must wait now (0: push at once). */
  delay(now: number): number {
    return Math.max(0, this.until - now);
  }

  /** Calls `then` once the backoff has run out (`delayMs` from now); one wait at a time. */
  wait(delayMs: number, then: () => void): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      then();
    }, delayMs);
    this.timer.unref();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The backoff of every stream, kept up to date as an observer of the server (NACKs and ACKs). */
export class NackBackoffs implements XdsObserver {
  private readonly backoffs = new WeakMap<ObservedStream, NackBackoff>();

  /** The stream's backoff. */
  of(stream: ObservedStream): NackBackoff {
    let backoff = this.backoffs.get(stream);
    if (backoff === undefined) this.backoffs.set(stream, (backoff = new NackBackoff()));
    return backoff;
  }

  requestHandled(stream: ObservedStream, result: RequestOutcome): undefined {
    if (result.outcome === 'ack') this.backoffs.get(stream)?.acked();
    else if (result.outcome === 'nack') this.of(stream).nacked(performance.now());
    return undefined;
  }

  streamClosed(stream: ObservedStream): void {
    this.backoffs.get(stream)?.cancel();
  }
}
