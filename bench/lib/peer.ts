// The go-control-plane peer (bench/peers/go-control-plane): built with Go on demand, started
// against the bench's etcd with the LDS/RDS/CDS resources etcd-xds serves, EDS translated from
// etcd by the peer itself.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { stopChild } from '../../testkit/stop-child';

const ROOT = path.join(__dirname, '..', '..');

/** Builds the peer (Go module proxy on first use); returns the binary's path, or undefined without Go. */
export function buildPeer(): string | undefined {
  if (spawnSync('go', ['version']).status !== 0) return undefined;
  const result = spawnSync('bash', [path.join(ROOT, 'bench/peers/build.sh')], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`bench/peers/build.sh failed (${result.status ?? result.signal})`);
  const binary = result.stdout.trim().split('\n').at(-1) ?? '';
  if (!fs.existsSync(binary)) throw new Error(`bench/peers/build.sh printed no binary (${binary})`);
  return binary;
}

/** base64 of each google.protobuf.Any, per type: what the peer serves from its SnapshotCache. */
export interface PeerResources {
  listeners: string[];
  routes: string[];
  clusters: string[];
}

export class PeerProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly address: string,
  ) {}

  static async start(binary: string, etcdUrl: string, resources: PeerResources): Promise<PeerProcess> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-peer-'));
    const file = path.join(dir, 'resources.json');
    fs.writeFileSync(file, JSON.stringify(resources));
    const child = spawn(
      binary,
      ['-listen', '127.0.0.1:0', '-etcd', etcdUrl, '-prefix', '/services/', '-resources', file],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const lines = readline.createInterface({ input: child.stdout });
        lines.on('line', (line) => {
          const match = /^listening (\d+)$/.exec(line);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code, signal) => reject(new Error(`peer exited (${code ?? signal})`)));
        setTimeout(() => reject(new Error('peer did not start within 60 s')), 60_000).unref();
      });
      return new PeerProcess(child, dir, `127.0.0.1:${port}`);
    } catch (error) {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Stops the peer (SIGTERM, then SIGKILL after 5 s) and removes its files. */
  async stop(): Promise<void> {
    await stopChild(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
