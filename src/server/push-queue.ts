// Pushes a snapshot change to its streams in slices (8 ms of work at most), yielding to the event
// loop between slices, so the first streams' bytes are on the wire while later ones are still
// being prepared (with 10,000 streams, one synchronous loop would hold every byte back until the
// last stream is done). The server holds plain ACKs while a push is going out (see XdsServer).
//
// Each stream still sees its snapshots in order: when a newer snapshot of a group arrives
// before a push has reached every stream, the streams not reached yet are re-planned from what
// they last got to the newer snapshot, in one push.
import { composeChanges, diffSnapshots, type ChangeSet, type Snapshot } from '../cache/snapshot';

export type PushFn<S> = (
  stream: S,
  snapshot: Snapshot,
  changes: ChangeSet,
  previous: Snapshot | undefined,
) => void;

interface Job<S> {
  /** The group of clients (cache client key) whose snapshot this is. */
  readonly group: string;
  readonly snapshot: Snapshot;
  readonly changes: ChangeSet;
  /** What every stream of this job was last pushed. */
  readonly previous: Snapshot | undefined;
  readonly streams: readonly S[];
  next: number;
}

/** Streams pushed per event-loop turn, at most. */
const PUSH_SLICE = 4096;
/** …and for at most this long: each turn lets the bytes written so far go out. */
const PUSH_SLICE_MS = 8;

export class PushQueue<S> {
  private jobs: Job<S>[] = [];
  /**
   * How many queued jobs each group has. A rebuild enqueues every group of clients in turn: one
   * with nothing queued (the usual case) is appended without a pass over the other groups' jobs.
   */
  private readonly queued = new Map<string, number>();
  private scheduled = false;

  private readonly slice: number;
  private readonly sliceMs: number;
  private readonly schedule: (run: () => void) => void;
  private readonly onIdle: () => void;
  private readonly now: () => number;

  constructor(
    private readonly push: PushFn<S>,
    options: {
      /** Streams per turn, at most. */
      slice?: number;
      /** Time per turn, at most (checked every 16 streams). */
      sliceMs?: number;
      schedule?: (run: () => void) => void;
      /** Called when the last queued push has gone out. */
      onIdle?: () => void;
      now?: () => number;
    } = {},
  ) {
    this.slice = options.slice ?? PUSH_SLICE;
    this.sliceMs = options.sliceMs ?? PUSH_SLICE_MS;
    this.schedule = options.schedule ?? ((run) => void setImmediate(run));
    this.onIdle = options.onIdle ?? (() => {});
    this.now = options.now ?? (() => performance.now());
  }

  /** Whether some push has not reached all its streams yet. */
  get busy(): boolean {
    return this.jobs.length > 0;
  }

  /** Streams not yet pushed, over all jobs. */
  get backlog(): number {
    return this.jobs.reduce((sum, job) => sum + job.streams.length - job.next, 0);
  }

  /**
   * Queues the push of `snapshot` (which follows `previous` for `group`) to `affected`, the
   * streams `changes` touch.
   */
  enqueue(
    group: string,
    snapshot: Snapshot,
    changes: ChangeSet,
    previous: Snapshot | undefined,
    affected: Iterable<S>,
  ): void {
    if (!this.queued.has(group)) {
      const streams = [...affected];
      if (streams.length > 0) this.append({ group, snapshot, changes, previous, streams, next: 0 });
      return;
    }
    const behind = new Set<S>();
    const kept: Job<S>[] = [];
    const replanned: Job<S>[] = [];
    for (const job of this.jobs) {
      if (job.group !== group) {
        kept.push(job);
        continue;
      }
      const rest = job.streams.slice(job.next);
      for (const stream of rest) behind.add(stream);
      replanned.push({
        group,
        snapshot,
        // job.changes took these streams from job.previous to job.snapshot, `changes` takes that
        // on to `snapshot`: together they name everything that may differ (no full diff).
        changes:
          job.previous !== undefined && previous === job.snapshot
            ? composeChanges(job.previous, job.changes, changes, snapshot)
            : diffSnapshots(job.previous, snapshot),
        previous: job.previous,
        streams: rest,
        next: 0,
      });
    }
    const streams = [...affected].filter((stream) => !behind.has(stream));
    this.jobs = kept;
    this.queued.delete(group);
    for (const job of [...replanned, { group, snapshot, changes, previous, streams, next: 0 }])
      if (job.streams.length > 0) this.append(job);
    this.wake();
  }

  /** Drops every queued push (shutdown). */
  clear(): void {
    this.jobs = [];
    this.queued.clear();
  }

  private append(job: Job<S>): void {
    this.jobs.push(job);
    this.queued.set(job.group, (this.queued.get(job.group) ?? 0) + 1);
    this.wake();
  }

  private wake(): void {
    if (this.scheduled || this.jobs.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.runSlice();
      if (this.jobs.length === 0) this.onIdle();
      this.wake();
    });
  }

  private runSlice(): void {
    const deadline = this.now() + this.sliceMs;
    let pushed = 0;
    while (pushed < this.slice && this.jobs.length > 0) {
      const job = this.jobs[0];
      while (pushed < this.slice && job.next < job.streams.length) {
        this.push(job.streams[job.next++], job.snapshot, job.changes, job.previous);
        // Reading the clock costs little next to a push, but not nothing: every 16 streams.
        if ((++pushed & 15) === 0 && this.now() >= deadline) pushed = this.slice;
      }
      if (job.next >= job.streams.length) {
        this.jobs.shift();
        const left = this.queued.get(job.group)! - 1;
        if (left > 0) this.queued.set(job.group, left);
        else this.queued.delete(job.group);
      }
    }
  }
}
