// A cap on heavy admin requests running at once (views of every resource or client, CSDS): each
// holds memory while its response is written, so beyond the cap requests are refused at once
// (HTTP 503 with Retry-After, gRPC RESOURCE_EXHAUSTED) rather than queued.
import type { Counter } from 'prom-client';

export class HeavyRequests {
  private running = 0;

  constructor(
    readonly max: number,
    private readonly refused: Counter<'endpoint'>,
  ) {}

  /** A function that ends the request's turn, or undefined when `max` are running (counted). */
  begin(endpoint: string): (() => void) | undefined {
    if (this.running >= this.max) {
      this.refused.inc({ endpoint });
      return undefined;
    }
    this.running++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.running--;
    };
  }

  get inFlight(): number {
    return this.running;
  }
}
