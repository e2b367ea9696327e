// The go-control-plane peer (bench/peers/go-control-plane): built with Go on demand, started
// against the bench's etcd with the LDS/RDS/CDS resources etcd-xds serves, EDS translated from
// etcd by the peer itself.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { messageType } from '../../src/proto/proto-root';
import { CLUSTER, LISTENER, ROUTE } from '../../src/proto/xds-types';
import { ADS_SERVICE, encodeDiscoveryRequest } from '../../src/server/ads-service';
import { stopChild } from '../../testkit/stop-child';
import { clustersOf } from './world';

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

/** The first DiscoveryResponse `target` sends for a request of `names` of `typeUrl` (raw bytes). */
export async function captureResponse(target: string, typeUrl: string, names: string[]): Promise<Buffer> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 << 20,
  });
  const call = client.makeBidiStreamRequest(
    ADS_SERVICE.StreamAggregatedResources.path,
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
      call.write(
        encodeDiscoveryRequest({
          node: { id: 'bench-capture', user_agent_name: 'etcd-xds-bench', locality: {} },
          type_url: typeUrl,
          resource_names: names,
        }),
      );
    });
  } finally {
    call.cancel();
    client.close();
  }
}

/** The resources (encoded google.protobuf.Any) of a DiscoveryResponse. */
function responseResources(response: Buffer): Buffer[] {
  const anyType = messageType('google.protobuf.Any');
  const decoded = messageType('envoy.service.discovery.v3.DiscoveryResponse').decode(response) as unknown as {
    resources: object[];
  };
  return decoded.resources.map((any) => Buffer.from(anyType.encode(any).finish()));
}

/** Names per capture request: well under the server's limit of names per request (100,000). */
const CAPTURE_CHUNK = 20_000;

/** What etcd-xds serves for LDS, RDS and CDS of every service: the peer serves the same bytes. */
export async function captureResources(target: string, services: number): Promise<PeerResources> {
  const names = Array.from({ length: services }, (_, s) => `svc-${s}`);
  const of = async (typeUrl: string, wanted: string[]): Promise<string[]> => {
    const captured: string[] = [];
    for (let from = 0; from < wanted.length; from += CAPTURE_CHUNK) {
      const chunk = wanted.slice(from, from + CAPTURE_CHUNK);
      const resources = responseResources(await captureResponse(target, typeUrl, chunk));
      if (resources.length !== chunk.length)
        throw new Error(`captured ${resources.length} of ${chunk.length} resources of ${typeUrl}`);
      for (const any of resources) captured.push(any.toString('base64'));
    }
    return captured;
  };
  return {
    listeners: await of(LISTENER.typeUrl, names),
    routes: await of(ROUTE.typeUrl, names),
    clusters: await of(CLUSTER.typeUrl, names.flatMap(clustersOf)),
  };
}

export class PeerProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly address: string,
  ) {}

  /**
   * Starts the peer and waits for its "listening" line (it first loads `resources` and lists etcd:
   * give a catalog of 1,000,000 instances minutes, `startTimeoutMs`).
   */
  static async start(
    binary: string,
    etcdUrl: string,
    resources: PeerResources,
    startTimeoutMs = 60_000,
  ): Promise<PeerProcess> {
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
        setTimeout(
          () => reject(new Error(`peer did not start within ${startTimeoutMs / 1000} s`)),
          startTimeoutMs,
        ).unref();
      });
      return new PeerProcess(child, dir, `127.0.0.1:${port}`);
    } catch (error) {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Its resident memory (bytes), from /proc. */
  rssBytes(): number {
    const status = fs.readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kB = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (kB === null) throw new Error(`no VmRSS in /proc/${this.child.pid}/status`);
    return Number(kB[1]) * 1024;
  }

  /** The CPU time it has used (user + system, seconds), from /proc. */
  cpuSeconds(): number {
    const stat = fs.readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, in parentheses): utime is the 14th
    // field of the line, stime the 15th, in clock ticks (100 a second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  /** Stops the peer (SIGTERM, then SIGKILL after 5 s) and removes its files. */
  async stop(): Promise<void> {
    await stopChild(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
