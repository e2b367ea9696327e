// Throwaway etcd processes (Debian's etcd-server) for tests and the demo: temp data dir, free
// loopback ports, started and stopped by the caller, by pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';
import { stopChild } from './stop-child';

const DEFAULT_BINARY = '/usr/bin/etcd';

/** Finds etcd, installing Debian's etcd-server when it is missing and we may (root + apt-get). */
export function ensureEtcdBinary(): string {
  const binary = process.env.ETCD_BIN ?? DEFAULT_BINARY;
  if (fs.existsSync(binary)) return binary;
  const isRoot = process.getuid?.() === 0;
  if (binary === DEFAULT_BINARY && isRoot && fs.existsSync('/usr/bin/apt-get')) {
    process.stderr.write('etcd not found: installing Debian package etcd-server\n');
    execFileSync('/usr/bin/apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('/usr/bin/apt-get', ['install', '-y', '-qq', 'etcd-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (fs.existsSync(binary)) return binary;
  }
  throw new Error(
    `etcd not found at ${binary}: install it with "sudo apt-get install etcd-server" or set ETCD_BIN`,
  );
}

export interface EtcdOptions {
  /** Reuse this data dir (for restarts); default: a new temp dir, removed on stop(). */
  readonly dataDir?: string;
  readonly clientPort?: number;
  readonly peerPort?: number;
  /** Serve clients over TLS (https://) with these PEM files. */
  readonly tls?: EtcdTlsOptions;
}

export interface EtcdTlsOptions {
  readonly cert: string;
  readonly key: string;
  /** CA that signed client certificates; with it etcd requires one (--client-cert-auth). */
  readonly clientCa?: string;
  /** Client certificate for the harness's own health checks (needed with `clientCa`). */
  readonly healthClient?: { readonly ca: string; readonly cert: string; readonly key: string };
}

export class EtcdProcess {
  private child: ChildProcess | undefined;
  private readonly ownsDataDir: boolean;
  readonly dataDir: string;
  private output = '';

  private constructor(
    private readonly binary: string,
    readonly clientPort: number,
    readonly peerPort: number,
    dataDir: string | undefined,
    private readonly tls: EtcdTlsOptions | undefined,
  ) {
    this.ownsDataDir = dataDir === undefined;
    this.dataDir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-etcd-'));
  }

  static async start(options: EtcdOptions = {}): Promise<EtcdProcess> {
    const etcd = new EtcdProcess(
      ensureEtcdBinary(),
      options.clientPort ?? (await freePort()),
      options.peerPort ?? (await freePort()),
      options.dataDir,
      options.tls,
    );
    await etcd.launch();
    return etcd;
  }

  get url(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Recent output of the etcd process, for failure messages. */
  get log(): string {
    return this.output.slice(-4000);
  }

  /** Stops the process (SIGTERM, then SIGKILL) and keeps the data dir. */
  async halt(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child !== undefined) await stopChild(child);
  }

  /** Starts again on the same ports and data. */
  async restart(): Promise<void> {
    await this.halt();
    await this.launch();
  }

  /** Stops the process and removes its data dir (when it made it). */
  async stop(): Promise<void> {
    await this.halt();
    if (this.ownsDataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      this.binary,
      [
        '--name=default',
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=${this.url}`,
        `--advertise-client-urls=${this.url}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        '--log-level=warn',
        '--logger=zap',
        ...(this.tls === undefined
          ? []
          : [
              `--cert-file=${this.tls.cert}`,
              `--key-file=${this.tls.key}`,
              ...(this.tls.clientCa === undefined
                ? []
                : [`--trusted-ca-file=${this.tls.clientCa}`, '--client-cert-auth']),
            ]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.child = child;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}:\n${this.log}`);
      if (await this.healthy()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.halt();
    throw new Error(`etcd did not become healthy within 20s:\n${this.log}`);
  }

  private async healthy(): Promise<boolean> {
    try {
      if (this.tls === undefined) {
        const response = await fetch(`${this.url}/health`);
        return response.ok && ((await response.json()) as { health: string }).health === 'true';
      }
      const client = this.tls.healthClient;
      const body = await new Promise<string>((resolve, reject) => {
        const request = https.get(
          `${this.url}/health`,
          client === undefined
            ? { rejectUnauthorized: false }
            : {
                ca: fs.readFileSync(client.ca),
                cert: fs.readFileSync(client.cert),
                key: fs.readFileSync(client.key),
              },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => resolve(response.statusCode === 200 ? text : ''));
          },
        );
        request.on('error', reject);
      });
      return body !== '' && (JSON.parse(body) as { health: string }).health === 'true';
    } catch {
      return false; // not listening yet
    }
  }
}
