// Builds of the heavy admin views (every resource, every client, CSDS): each is built once per
// state version and shared by every request that wants it meanwhile; all builds together run at
// most `sliceMs` per event-loop turn, so xDS clients are served between slices; and finished builds
// are kept, within a byte budget, for requests that come while nothing has changed.

/** Work done a slice at a time, producing output chunks. */
export interface SlicedTask {
  /** Works until `now()` passes `deadline` or the work is complete; returns the chunks produced. */
  step(deadline: number, now: () => number): Buffer[];
  readonly done: boolean;
}

export class ViewBuild {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  done = false;
  error: Error | undefined;
  private waiters: (() => void)[] = [];
  private joined: Buffer | undefined;

  constructor(
    readonly key: string,
    readonly version: readonly unknown[],
    readonly task: SlicedTask,
  ) {}

  /** Every chunk, as soon as it exists (a response body reads this at its own pace). */
  async *read(): AsyncGenerator<Buffer> {
    for (let next = 0; ;) {
      while (next < this.chunks.length) yield this.chunks[next++];
      if (this.error !== undefined) throw this.error;
      if (this.done) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The whole output, once the build is complete (joined once, for every request sharing it). */
  async whole(): Promise<Buffer> {
    for await (const _ of this.read());
    this.joined ??= this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    return this.joined;
  }

  /** @internal Runs one step (ViewBuilds' scheduler). */
  step(deadline: number, now: () => number): void {
    try {
      for (const chunk of this.task.step(deadline, now)) {
        this.chunks.push(chunk);
        this.bytes += chunk.length;
      }
      this.done = this.task.done;
    } catch (error) {
      this.error = error instanceof Error ? error : new Error(String(error));
      this.done = true;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export interface ViewBuildsOptions {
  /** Time all builds together may take per event-loop turn. */
  readonly sliceMs?: number;
  /** Finished builds kept for reuse: at most this many bytes… */
  readonly retainBytes?: number;
  /** …and this many builds. */
  readonly retainBuilds?: number;
  readonly now?: () => number;
  /** Called when a build starts (for a metric), with the view's name. */
  readonly onBuild?: (view: string) => void;
  /** Called when a build fails (a bug: the view's data could not be written). */
  readonly onError?: (view: string, error: Error) => void;
}

export class ViewBuilds {
  /** Builds by key, oldest use first: the one running or the last finished. */
  private readonly builds = new Map<string, ViewBuild>();
  private readonly running: { build: ViewBuild; view: string }[] = [];
  private scheduled = false;
  private readonly sliceMs: number;
  private readonly retainBytes: number;
  private readonly retainBuilds: number;
  private readonly now: () => number;

  constructor(private readonly options: ViewBuildsOptions = {}) {
    this.sliceMs = options.sliceMs ?? 5;
    this.retainBytes = options.retainBytes ?? 64 * 2 ** 20;
    this.retainBuilds = options.retainBuilds ?? 64;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The build of view `key` at `version` (compared part by part): the one running or finished at
   * that version if there is one, else a new one of `task()`.
   */
  get(view: string, key: string, version: readonly unknown[], task: () => SlicedTask): ViewBuild {
    const existing = this.builds.get(key);
    if (existing !== undefined && (!existing.done || sameVersion(existing.version, version))) {
      if (existing.error === undefined) {
        // Most recently used last.
        this.builds.delete(key);
        this.builds.set(key, existing);
        return existing;
      }
    }
    const build = new ViewBuild(key, version, task());
    this.builds.delete(key);
    this.builds.set(key, build);
    this.running.push({ build, view });
    this.options.onBuild?.(view);
    this.wake();
    return build;
  }

  private wake(): void {
    if (this.scheduled || this.running.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.runSlice();
      this.wake();
    });
  }

  /** One slice for all running builds, the first one rotating from turn to turn. */
  private runSlice(): void {
    const deadline = this.now() + this.sliceMs;
    const count = this.running.length;
    for (let i = 0; i < count && this.now() < deadline; i++) {
      const entry = this.running.shift()!;
      entry.build.step(deadline, this.now);
      if (entry.build.error !== undefined) this.options.onError?.(entry.view, entry.build.error);
      if (entry.build.done) this.finished(entry.build);
      else this.running.push(entry);
    }
  }

  /** Keeps finished builds within the budget, dropping the least recently used first. */
  private finished(build: ViewBuild): void {
    if (build.error !== undefined && this.builds.get(build.key) === build) this.builds.delete(build.key);
    let bytes = 0;
    let count = 0;
    for (const kept of this.builds.values()) {
      if (!kept.done) continue;
      bytes += kept.bytes;
      count++;
    }
    for (const [key, kept] of this.builds) {
      if (bytes <= this.retainBytes && count <= this.retainBuilds) break;
      if (!kept.done) continue;
      this.builds.delete(key);
      bytes -= kept.bytes;
      count--;
    }
  }
}

function sameVersion(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}
