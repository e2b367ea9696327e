// A three-member etcd cluster on loopback (Debian's etcd-server), for leader-loss tests.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { ensureEtcdBinary } from './etcd';
import { freePort } from './ports';

interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  child: ChildProcess | undefined;
}

export class EtcdCluster {
  private constructor(
    private readonly binary: string,
    private readonly members: Member[],
    private readonly root: string,
  ) {}

  static async start(size = 3): Promise<EtcdCluster> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-xds-cluster-'));
    const members: Member[] = [];
    for (let i = 0; i < size; i++) {
      members.push({
        name: `m${i}`,
        clientPort: await freePort(),
        peerPort: await freePort(),
        dataDir: path.join(root, `m${i}`),
        child: undefined,
      });
    }
    const cluster = new EtcdCluster(ensureEtcdBinary(), members, root);
    for (const member of members) cluster.launch(member, 'new');
    await cluster.waitHealthy(members);
    return cluster;
  }

  get urls(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  }

  /** The name of the current leader, asked of every running member. */
  async leader(): Promise<string> {
    for (const member of this.members) {
      if (member.child === undefined) continue;
      const client = new Etcd3({ hosts: `http://127.0.0.1:${member.clientPort}` });
      try {
        const status = await client.maintenance.status();
        const members = await client.cluster.memberList({});
        const leader = members.members.find((m) => m.ID === status.leader);
        if (leader) return leader.name;
      } catch {
        // try the next member
      } finally {
        client.close();
      }
    }
    throw new Error('no member knows a leader');
  }

  /** SIGKILLs a member (a crash). */
  async kill(name: string): Promise<void> {
    const member = this.member(name);
    const child = member.child;
    member.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed member again with its data. */
  async revive(name: string): Promise<void> {
    const member = this.member(name);
    this.launch(member, 'existing');
    await this.waitHealthy([member]);
  }

  async stop(): Promise<void> {
    for (const member of this.members) await this.kill(member.name);
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  private member(name: string): Member {
    const member = this.members.find((m) => m.name === name);
    if (member === undefined) throw new Error(`no member ${name}`);
    return member;
  }

  private launch(member: Member, state: 'new' | 'existing'): void {
    const peer = (m: Member): string => `http://127.0.0.1:${m.peerPort}`;
    member.child = spawn(
      this.binary,
      [
        `--name=${member.name}`,
        `--data-dir=${member.dataDir}`,
        `--listen-client-urls=http://127.0.0.1:${member.clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${member.clientPort}`,
        `--listen-peer-urls=${peer(member)}`,
        `--initial-advertise-peer-urls=${peer(member)}`,
        `--initial-cluster=${this.members.map((m) => `${m.name}=${peer(m)}`).join(',')}`,
        `--initial-cluster-state=${state}`,
        '--initial-cluster-token=etcd-xds-test',
        '--heartbeat-interval=50',
        '--election-timeout=500',
        '--log-level=error',
        '--logger=zap',
      ],
      { stdio: 'ignore' },
    );
  }

  private async waitHealthy(members: readonly Member[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (const member of members) {
      for (;;) {
        try {
          const response = await fetch(`http://127.0.0.1:${member.clientPort}/health`);
          if (response.ok && ((await response.json()) as { health: string }).health === 'true') break;
        } catch {
          // not up yet
        }
        if (Date.now() > deadline) throw new Error(`etcd member ${member.name} not healthy within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
