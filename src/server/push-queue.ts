// Pushes a snapshot change to its streams in slices, yielding to the event loop between slices,
// so the first streams' bytes are on the wire while later ones are still being prepared (with
// 10,000 streams, one synchronous loop would hold every byte back until the last stream is done).
//
// Each stream still sees its snapshots in order: when a newer snapshot of a flavour arrives
// before a push has reached every stream, the streams not reached yet are re-planned from what
// they last got to the newer snapshot, in one push.
import { diffSnapshots, type ChangeSet, type Snapshot } from '../cache/snapshot';
import type { Flavour } from '../translate/flavours';

export type PushFn<S> = (
  stream: S,
  snapshot: Snapshot,
  changes: ChangeSet,
  previous: Snapshot | undefined,
) => void;

interface Job<S> {
  readonly flavour: Flavour;
  readonly snapshot: Snapshot;
  readonly changes: ChangeSet;
  /** What every stream of this job was last pushed. */
  readonly previous: Snapshot | undefined;
  readonly streams: readonly S[];
  next: number;
}

/** Streams pushed per event-loop turn. */
export const PUSH_SLICE = 256;

export class PushQueue<S> {
  private jobs: Job<S>[] = [];
  private scheduled = false;

  constructor(
    private readonly push: PushFn<S>,
    private readonly slice = PUSH_SLICE,
    private readonly schedule: (run: () => void) => void = (run) => void setImmediate(run),
  ) {}

  /** Streams not yet pushed, over all jobs. */
  get backlog(): number {
    return this.jobs.reduce((sum, job) => sum + job.streams.length - job.next, 0);
  }

  /**
   * Queues the push of `snapshot` (which follows `previous` for `flavour`) to `affected`, the
   * streams `changes` touch.
   */
  enqueue(
    flavour: Flavour,
    snapshot: Snapshot,
    changes: ChangeSet,
    previous: Snapshot | undefined,
    affected: Iterable<S>,
  ): void {
    const behind = new Set<S>();
    const kept: Job<S>[] = [];
    const replanned: Job<S>[] = [];
    for (const job of this.jobs) {
      if (job.flavour !== flavour) {
        kept.push(job);
        continue;
      }
      const rest = job.streams.slice(job.next);
      for (const stream of rest) behind.add(stream);
      replanned.push({
        flavour,
        snapshot,
        changes: diffSnapshots(job.previous, snapshot),
        previous: job.previous,
        streams: rest,
        next: 0,
      });
    }
    const streams = [...affected].filter((stream) => !behind.has(stream));
    this.jobs = [...kept, ...replanned, { flavour, snapshot, changes, previous, streams, next: 0 }].filter(
      (job) => job.streams.length > 0,
    );
    this.wake();
  }

  /** Drops every queued push (shutdown). */
  clear(): void {
    this.jobs = [];
  }

  private wake(): void {
    if (this.scheduled || this.jobs.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.runSlice();
      this.wake();
    });
  }

  private runSlice(): void {
    let budget = this.slice;
    while (budget > 0 && this.jobs.length > 0) {
      const job = this.jobs[0];
      while (budget > 0 && job.next < job.streams.length) {
        this.push(job.streams[job.next++], job.snapshot, job.changes, job.previous);
        budget--;
      }
      if (job.next >= job.streams.length) this.jobs.shift();
    }
  }
}
