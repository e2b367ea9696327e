// Runs a real proxyless gRPC client program (grpc-js or Python C-core) as a child process with
// its own bootstrap file, and makes calls through it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

/**
 * - grpc-js: @grpc/grpc-js-xds (testkit/clients/node-client.ts)
 * - python: Debian's python3-grpcio, C-core (testkit/clients/python_client.py)
 * - grpcio-pypi: the pinned grpcio from PyPI running the same script, in build/interop/python
 * - grpc-go: test/interop/go, built to build/interop/go/xds-client
 * - grpc-java: test/interop/java, built to build/interop/java/xds-client.jar
 * `scripts/build-interop.sh` builds the last three.
 */
export type ClientLanguage = 'grpc-js' | 'python' | 'grpcio-pypi' | 'grpc-go' | 'grpc-java';

const ROOT = path.join(__dirname, '..');
const INTEROP = path.join(ROOT, 'build/interop');

export function clientCommand(language: ClientLanguage): [string, string[]] {
  switch (language) {
    case 'grpc-js':
      return [process.execPath, ['--import', 'tsx', path.join(__dirname, 'clients/node-client.ts')]];
    case 'python':
      return [SYSTEM_PYTHON, ['-u', path.join(__dirname, 'clients/python_client.py')]];
    case 'grpcio-pypi':
      return [
        path.join(INTEROP, 'python/bin/python'),
        ['-u', path.join(__dirname, 'clients/python_client.py')],
      ];
    case 'grpc-go':
      return [path.join(INTEROP, 'go/xds-client'), []];
    case 'grpc-java':
      return ['java', ['-jar', path.join(INTEROP, 'java/xds-client.jar')]];
  }
}

/** Whether the program for a client is installed or built here. */
export function clientAvailable(language: ClientLanguage): boolean {
  const [command, args] = clientCommand(language);
  if (language === 'grpc-java') return fs.existsSync(args[1]);
  return path.isAbsolute(command) ? fs.existsSync(command) : true;
}

export type CallResult =
  { ok: true; id: string; version: string; address: string } | { ok: false; code: number; details: string };

export interface CallOptions {
  readonly metadata?: Record<string, string>;
  /** The method's full path (default /etcd_xds.demo.v1.Echo/Who; WhoElse is the other one). */
  readonly method?: string;
  readonly count?: number;
  /** Make the `count` calls all at once (started 20 ms apart) rather than one after the other. */
  readonly concurrent?: boolean;
  readonly deadlineMs?: number;
}

/** Debian's python3-grpcio is C-core 1.51; the system interpreter has it, pyenv's may not. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export class XdsClientProcess {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (results: CallResult[]) => void; reject: (error: Error) => void }
  >();
  private stderr = '';
  readonly bootstrapPath: string;

  private constructor(
    readonly language: ClientLanguage,
    private readonly child: ChildProcess,
    bootstrapPath: string,
    readonly version: string,
  ) {
    this.bootstrapPath = bootstrapPath;
  }

  static async start(
    language: ClientLanguage,
    bootstrap: object,
    env: NodeJS.ProcessEnv = {},
  ): Promise<XdsClientProcess> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-client-'));
    const bootstrapPath = path.join(dir, 'bootstrap.json');
    fs.writeFileSync(bootstrapPath, JSON.stringify(bootstrap));
    const [command, args] = clientCommand(language);
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env, GRPC_XDS_BOOTSTRAP: bootstrapPath },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = readline.createInterface({ input: child.stdout });
    const hello = await new Promise<{ version: string }>((resolve, reject) => {
      lines.once('line', (line) => resolve(JSON.parse(line) as { version: string }));
      child.once('exit', (code) => reject(new Error(`${language} client exited with ${code}:\n${stderr}`)));
    });
    const client = new XdsClientProcess(language, child, bootstrapPath, hello.version);
    client.stderr = stderr;
    child.stderr.removeAllListeners('data');
    child.stderr.on(
      'data',
      (chunk: Buffer) => (client.stderr = (client.stderr + chunk.toString()).slice(-20_000)),
    );
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { id: number; results: CallResult[] };
      client.pending.get(message.id)?.resolve(message.results);
      client.pending.delete(message.id);
    });
    child.once('exit', (code, signal) => {
      for (const { reject } of client.pending.values()) {
        reject(
          new Error(`${language} client died (${signal ?? `exit ${code}`}):\n${client.stderr.slice(-3000)}`),
        );
      }
      client.pending.clear();
    });
    return client;
  }

  /** Makes `count` sequential calls to Echo/Who on `target`. */
  call(target: string, options: CallOptions = {}): Promise<CallResult[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(
          new Error(
            `${this.language} client has exited (${this.child.signalCode ?? this.child.exitCode}):\n${this.stderr}`,
          ),
        );
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, target, ...options })}\n`);
    });
  }

  get log(): string {
    return this.stderr;
  }

  private get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async stop(): Promise<void> {
    if (this.exited) {
      fs.rmSync(path.dirname(this.bootstrapPath), { recursive: true, force: true });
      return;
    }
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(path.dirname(this.bootstrapPath), { recursive: true, force: true });
  }
}
