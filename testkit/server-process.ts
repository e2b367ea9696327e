// Runs `etcd-xds serve` as a real child process on free loopback ports and reads its JSON logs.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'src/cli/main.ts');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The JSON log lines of a process, with a way to wait for one. */
export class JsonLog {
  readonly lines: LogLine[] = [];
  /** Output that was not a JSON log line (stderr, stack traces). */
  other = '';
  private readonly waiters = new Set<{
    match: (line: LogLine) => boolean;
    resolve: (line: LogLine) => void;
  }>();

  attach(child: ChildProcess): void {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        this.add(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.other += chunk.toString()));
  }

  waitFor(match: (line: LogLine) => boolean): Promise<LogLine> {
    const found = this.lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.add({ match, resolve }));
  }

  private add(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      this.other += `${text}\n`;
      return;
    }
    this.lines.push(line);
    for (const waiter of this.waiters) {
      if (!waiter.match(line)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(line);
    }
  }
}

export class ServerProcess {
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly log: JsonLog,
    readonly xdsPort: number,
    readonly adminPort: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  /** Starts `etcd-xds serve --host 127.0.0.1 --port 0 --admin-port 0 <args>`. */
  static start(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
    return ServerProcess.spawn(
      ['--import', 'tsx', CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', ...args],
      { env: { ...process.env, ...env } },
    );
  }

  /**
   * Runs `node <nodeArgs>`, an `etcd-xds serve` command line (e.g. the one a manifest or the
   * image gives), and resolves once it serves.
   */
  static async spawn(
    nodeArgs: readonly string[],
    options: { env: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number },
  ): Promise<ServerProcess> {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: options.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env,
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
    });
    const log = new JsonLog();
    log.attach(child);
    let timer: NodeJS.Timeout | undefined;
    const serving = await Promise.race([
      log.waitFor((line) => line.msg === 'etcd-xds serving'),
      new Promise<never>((_, reject) => {
        child.once('exit', (code) =>
          reject(new Error(`etcd-xds exited with ${code} before serving:\n${log.other}`)),
        );
        timer = setTimeout(
          () => reject(new Error(`etcd-xds did not start within 30s:\n${log.other}`)),
          30_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const port = (address: unknown): number =>
      Number(String(address).slice(String(address).lastIndexOf(':') + 1));
    return new ServerProcess(child, log, port(serving.xds), port(serving.admin));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get xdsAddress(): string {
    return `127.0.0.1:${this.xdsPort}`;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** GET an admin endpoint; JSON bodies are parsed. */
  async admin<T = unknown>(urlPath: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.adminUrl}${urlPath}`);
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json');
    return { status: response.status, body: (isJson ? JSON.parse(text) : text) as T };
  }

  /**
   * The value of one Prometheus series, e.g. `etcd_xds_pushes_total{type="EDS"}` (0 when the
   * server has not exported it yet).
   */
  async metric(series: string): Promise<number> {
    const { body } = await this.admin<string>('/metrics');
    for (const line of body.split('\n')) {
      if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
    }
    return 0;
  }

  /** Sends a signal and resolves to the exit code; SIGKILLs and throws after `timeoutMs`. */
  async signal(signal: NodeJS.Signals, timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.exited,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`etcd-xds did not exit within ${timeoutMs}ms of ${signal}`);
    }
    return result;
  }

  /** Freezes the process (SIGSTOP), as a long GC pause or a descheduled VM would. */
  pause(): void {
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.child.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }
}
