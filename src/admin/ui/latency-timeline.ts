// Push and convergence latency over the last minutes, for the dashboard's chart, and each
// client's latest convergence. Fed by the server's telemetry (the same samples as the
// etcd_xds_push_latency_seconds and etcd_xds_convergence_seconds histograms); costs a few numbers
// per sample and a fixed amount of memory however many clients there are.
import type { LatencySink } from '../../server/telemetry';

export interface LatencyFigures {
  readonly count: number;
  readonly p50: number;
  readonly max: number;
}

/** One bucket of the timeline: latencies in seconds, null when there was no sample. */
export interface LatencyPoint {
  /** Start of the bucket (ms since the epoch). */
  readonly at: number;
  readonly push: LatencyFigures | null;
  readonly convergence: LatencyFigures | null;
}

export interface LastConvergence {
  readonly seconds: number;
  /** When (ms since the epoch). */
  readonly at: number;
}

/** Samples kept per bucket and kind for the median; counts and maxima are exact. */
const RESERVOIR = 256;

/** A bucket's samples of one kind: exact count and max, a uniform sample for the median. */
class Samples {
  count = 0;
  max = 0;
  private readonly kept: number[] = [];
  private seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0 || 1;
  }

  add(value: number): void {
    this.count++;
    if (value > this.max) this.max = value;
    if (this.kept.length < RESERVOIR) {
      this.kept.push(value);
      return;
    }
    // Reservoir sampling: the n-th sample replaces a kept one with probability RESERVOIR / n.
    const slot = Math.floor(this.next() * this.count);
    if (slot < RESERVOIR) this.kept[slot] = value;
  }

  figures(): LatencyFigures | null {
    if (this.count === 0) return null;
    const sorted = [...this.kept].sort((a, b) => a - b);
    return { count: this.count, p50: sorted[(sorted.length - 1) >> 1], max: this.max };
  }

  /** xorshift32: reproducible, no allocation. */
  private next(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed / 0x1_0000_0000;
  }
}

interface Bucket {
  readonly at: number;
  readonly push: Samples;
  readonly convergence: Samples;
}

export interface LatencyTimelineOptions {
  /** Width of a bucket. */
  readonly bucketMs?: number;
  /** Buckets kept (the chart's span is bucketMs × buckets). */
  readonly buckets?: number;
  readonly now?: () => number;
}

export class LatencyTimeline implements LatencySink {
  readonly bucketMs: number;
  private readonly size: number;
  private readonly now: () => number;
  /** Oldest first; only buckets that had samples. */
  private readonly buckets: Bucket[] = [];
  private readonly last = new WeakMap<object, LastConvergence>();
  private recorded = 0;

  constructor(options: LatencyTimelineOptions = {}) {
    this.bucketMs = options.bucketMs ?? 5_000;
    this.size = options.buckets ?? 60;
    this.now = options.now ?? Date.now;
  }

  /** Samples recorded so far (tells a reader whether anything changed). */
  get samples(): number {
    return this.recorded;
  }

  pushed(seconds: number): void {
    this.recorded++;
    this.current().push.add(seconds);
  }

  converged(client: object, seconds: number): void {
    this.recorded++;
    this.current().convergence.add(seconds);
    this.last.set(client, { seconds, at: this.now() });
  }

  /** A client's latest convergence, if it has converged on a change since it connected. */
  lastConvergence(client: object): LastConvergence | undefined {
    return this.last.get(client);
  }

  /** Every bucket of the span, oldest first, ending with the current one (empty ones included). */
  points(): LatencyPoint[] {
    const end = this.bucketStart(this.now());
    const start = end - (this.size - 1) * this.bucketMs;
    const byStart = new Map(this.buckets.map((bucket) => [bucket.at, bucket]));
    const points: LatencyPoint[] = [];
    for (let at = start; at <= end; at += this.bucketMs) {
      const bucket = byStart.get(at);
      points.push({
        at,
        push: bucket?.push.figures() ?? null,
        convergence: bucket?.convergence.figures() ?? null,
      });
    }
    return points;
  }

  private bucketStart(ms: number): number {
    return Math.floor(ms / this.bucketMs) * this.bucketMs;
  }

  private current(): Bucket {
    const at = this.bucketStart(this.now());
    const newest = this.buckets[this.buckets.length - 1];
    if (newest !== undefined && newest.at === at) return newest;
    const bucket = { at, push: new Samples(at), convergence: new Samples(at ^ 0x9e3779b9) };
    this.buckets.push(bucket);
    const oldest = at - (this.size - 1) * this.bucketMs;
    while (this.buckets[0].at < oldest) this.buckets.shift();
    return bucket;
  }
}
