// A whole etcd-xds world on loopback for integration tests and the demo: a throwaway etcd, the
// real server as a child process, real backends registered under leases, and a bootstrap.
import { Etcd3 } from 'etcd3';
import { grpcBootstrap } from '../src/cli/bootstrap';
import { Registrar } from '../src/register/registrar';
import { startEchoBackend, type EchoBackend } from './echo-backend';
import { EtcdProcess } from './etcd';
import { ServerProcess } from './server-process';

export interface BackendSpec {
  readonly service?: string;
  readonly id: string;
  readonly version?: string;
  readonly weight?: number;
  readonly zone?: string;
  readonly ttlSeconds?: number;
}

export interface RunningBackend {
  readonly spec: BackendSpec;
  readonly backend: EchoBackend;
  readonly registrar: Registrar;
}

export class Mesh {
  readonly backends = new Map<string, RunningBackend>();

  private constructor(
    readonly etcd: EtcdProcess,
    readonly kv: Etcd3,
    readonly server: ServerProcess,
  ) {}

  /** Starts etcd and `etcd-xds serve` (with fast debounce unless `serverArgs` say otherwise). */
  static async start(serverArgs: readonly string[] = [], serverEnv: NodeJS.ProcessEnv = {}): Promise<Mesh> {
    const etcd = await EtcdProcess.start();
    const kv = new Etcd3({ hosts: etcd.url });
    try {
      const server = await ServerProcess.start(
        ['--etcd', etcd.url, '--debounce-ms', '20', '--max-delay-ms', '200', ...serverArgs],
        serverEnv,
      );
      return new Mesh(etcd, kv, server);
    } catch (error) {
      kv.close();
      await etcd.stop();
      throw error;
    }
  }

  bootstrap(nodeId = 'test-client'): object {
    return grpcBootstrap({ servers: [this.server.xdsAddress], nodeId });
  }

  /** Starts a backend and registers it (flat form, under a lease) the way `etcd-xds register` does. */
  async addBackend(spec: BackendSpec): Promise<RunningBackend> {
    const service = spec.service ?? 'app';
    const backend = await startEchoBackend({ service, id: spec.id, version: spec.version ?? '' });
    const registrar = await Registrar.register({
      etcd: this.kv,
      service,
      id: spec.id,
      version: spec.version,
      address: backend.address,
      weight: spec.weight,
      zone: spec.zone,
      ttlSeconds: spec.ttlSeconds ?? 10,
    });
    const running = { spec, backend, registrar };
    this.backends.set(spec.id, running);
    return running;
  }

  /** Deregisters (revokes the lease) and stops a backend. */
  async removeBackend(id: string): Promise<void> {
    const running = this.backends.get(id);
    if (running === undefined) throw new Error(`no backend ${id}`);
    this.backends.delete(id);
    await running.registrar.stop();
    await running.backend.stop();
  }

  /**
   * Takes a backend out the way a well-behaved instance leaves (contract §9): marks it draining,
   * waits `drainMs`, deregisters, then stops it (calls in flight finish).
   */
  async drainBackend(id: string, drainMs: number): Promise<void> {
    const running = this.backends.get(id);
    if (running === undefined) throw new Error(`no backend ${id}`);
    this.backends.delete(id);
    await running.registrar.drain(drainMs);
    await running.backend.stop();
  }

  /** Writes raw key/value pairs (registrations without a backend behind them), 100 per transaction. */
  async putAll(entries: readonly (readonly [string, string])[]): Promise<void> {
    for (let i = 0; i < entries.length; i += 100) {
      await this.kv
        .if('/none', 'Create', '==', 0)
        .then(...entries.slice(i, i + 100).map(([key, value]) => this.kv.put(key).value(value)))
        .commit();
    }
  }

  /** Writes a policy; resolves to the etcd revision of the write. */
  async putPolicy(service: string, policy: object | string): Promise<number> {
    const { header } = await this.kv
      .put(`/xds/policies/${service}`)
      .value(typeof policy === 'string' ? policy : JSON.stringify(policy));
    return Number(header.revision);
  }

  async deletePolicy(service: string): Promise<void> {
    await this.kv.delete().key(`/xds/policies/${service}`);
  }

  /**
   * Waits until the server has translated etcd revision `revision` and every connected client has
   * ACKed the resulting version of each type it subscribes to, in its own flavour (from
   * /debug/config_dump and /debug/clients).
   */
  async waitForAcks(revision: number, timeoutMs = 10_000): Promise<void> {
    interface Dump {
      catalog: { revision: number } | null;
      resources: Record<string, { versionInfo: string }> | null;
    }
    interface Clients {
      clients: {
        flavour: string;
        subscriptions: Record<string, { lastAck: { versionInfo: string } | null }>;
      }[];
    }
    await eventually(
      async () => {
        const { clients } = (await this.server.admin<Clients>('/debug/clients')).body;
        const dumps = new Map<string, Dump>();
        for (const flavour of new Set(clients.map((c) => c.flavour))) {
          dumps.set(flavour, (await this.server.admin<Dump>(`/debug/config_dump?flavour=${flavour}`)).body);
        }
        return { clients, dumps };
      },
      ({ clients, dumps }) => {
        for (const client of clients) {
          const dump = dumps.get(client.flavour)!;
          if ((dump.catalog?.revision ?? 0) < revision)
            throw new Error(`revision ${revision} not translated yet`);
          for (const [type, subscription] of Object.entries(client.subscriptions)) {
            const current = dump.resources?.[type].versionInfo;
            if (subscription.lastAck?.versionInfo !== current)
              throw new Error(`a client has not ACKed ${type} ${current}`);
          }
        }
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  async stop(): Promise<void> {
    for (const id of [...this.backends.keys()]) await this.removeBackend(id).catch(() => undefined);
    await this.server.stop().catch(() => undefined);
    this.kv.close();
    await this.etcd.stop();
  }
}

/**
 * Retries `attempt` until `check` accepts its result (returns without throwing), or throws the
 * last check failure after `timeoutMs`. Resolves to the accepted result and how long it took.
 */
export async function eventually<T>(
  attempt: () => T | Promise<T>,
  check: (value: T) => void,
  { timeoutMs = 15_000, intervalMs = 100 } = {},
): Promise<{ value: T; elapsedMs: number }> {
  const start = performance.now();
  let lastError: unknown;
  while (performance.now() - start < timeoutMs) {
    const value = await attempt();
    try {
      check(value);
      return { value, elapsedMs: performance.now() - start };
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
