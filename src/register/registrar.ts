// Registers one instance in etcd under a lease, keeps the lease alive, registers again with a
// new lease when the old one is lost (etcd restart, long pause), and deregisters on stop.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';
import { EtcdXdsError, ErrorCode } from '../errors';
import { parseInstance } from '../registry/instance';
import type { JsonObject } from '../registry/json-value';

export interface RegistrarOptions {
  readonly etcd: Etcd3;
  /** Registration prefix, as given to `etcd-xds serve --prefix`. Default `/services/`. */
  readonly prefix?: string;
  readonly service: string;
  readonly version?: string;
  /** `IP:port` clients should dial. */
  readonly address: string;
  /** Default: `<hostname>-<port>`. */
  readonly id?: string;
  /** Lease TTL in seconds; the instance disappears this long after the process dies. Default 10. */
  readonly ttlSeconds?: number;
  readonly weight?: number;
  readonly zone?: string;
  readonly metadata?: JsonObject;
  readonly logger?: Logger;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** The flat registration value `etcd-xds register` writes (contract §3). */
export function registrationValue(options: RegistrarOptions, id: string): string {
  return JSON.stringify({
    name: options.service,
    id,
    ...(options.version !== undefined ? { version: options.version } : {}),
    address: options.address,
    ...(options.weight !== undefined ? { weight: options.weight } : {}),
    ...(options.zone !== undefined ? { zone: options.zone } : {}),
    ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
  });
}

export function defaultInstanceId(address: string, hostname: string): string {
  const port = address.slice(address.lastIndexOf(':') + 1);
  return `${hostname}-${port}`;
}

export class Registrar extends EventEmitter<{ registered: [leaseId: string]; lost: [error: Error] }> {
  readonly key: string;
  readonly value: string;
  private lease: Lease | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private registering: Promise<void> | undefined;

  /** Validates the registration; nothing is written until `start()`. */
  constructor(private readonly options: RegistrarOptions) {
    super();
    const id = options.id ?? defaultInstanceId(options.address, hostname());
    this.key = `${options.prefix ?? '/services/'}${options.service}/${id}`;
    this.value = registrationValue(options, id);
    // Refuse to write what etcd-xds would skip as invalid.
    const parsed = parseInstance(this.key, this.value);
    if (!parsed.ok) throw new EtcdXdsError(parsed.problem);
    const ttl = options.ttlSeconds ?? 10;
    if (!Number.isInteger(ttl) || ttl < 2) {
      throw new EtcdXdsError({
        code: ErrorCode.BadConfig,
        subject: 'ttl',
        message: 'TTL must be an integer >= 2 seconds',
      });
    }
  }

  /** Creates and starts a registrar; resolves once the instance is in etcd. */
  static async register(options: RegistrarOptions): Promise<Registrar> {
    const registrar = new Registrar(options);
    await registrar.start();
    return registrar;
  }

  /** Registers the instance; resolves once it is in etcd (retrying while etcd is unreachable). */
  start(): Promise<void> {
    return this.registering ?? this.registerUntilDone();
  }

  /**
   * Drains, then deregisters (contract §9): rewrites the registration with `"status":
   * "draining"` under the same lease, so clients send the instance no new calls while those in
   * flight finish, waits `ms`, then `stop()`s. Returns once deregistered.
   */
  async drain(ms: number): Promise<void> {
    const lease = this.lease;
    if (!this.stopped && lease !== undefined) {
      const draining = JSON.stringify({ ...(JSON.parse(this.value) as object), status: 'draining' });
      try {
        await lease.put(this.key).value(draining).exec();
        this.options.logger?.info({ key: this.key, drainMs: ms }, 'draining');
        await new Promise((resolve) => setTimeout(resolve, ms));
      } catch (error) {
        // etcd unreachable: deregister at once (the lease expires on its own if that fails too).
        this.options.logger?.warn(
          { key: this.key, err: (error as Error).message },
          'could not mark the instance draining',
        );
      }
    }
    await this.stop();
  }

  /**
   * Deletes the registration (by revoking its lease) and stops keeping it alive. Safe at any
   * time, also while `start()` is still retrying or writing.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    await this.registering?.catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return;
    try {
      await lease.revoke();
    } catch (error) {
      // The lease will expire on its own within the TTL.
      this.options.logger?.warn({ key: this.key, err: (error as Error).message }, 'could not revoke lease');
      lease.release();
    }
  }

  private registerUntilDone(): Promise<void> {
    this.registering = (async () => {
      let backoff = this.options.minBackoffMs ?? 200;
      const maxBackoff = this.options.maxBackoffMs ?? 5_000;
      while (!this.stopped) {
        try {
          await this.registerOnce();
          return;
        } catch (error) {
          this.options.logger?.warn(
            { key: this.key, err: (error as Error).message, retryInMs: backoff },
            'registration failed; retrying',
          );
          await new Promise<void>((resolve) => {
            this.retryTimer = setTimeout(resolve, backoff);
            this.wakeRetry = resolve;
          });
          backoff = Math.min(maxBackoff, backoff * 2);
        }
      }
    })();
    return this.registering;
  }

  private async registerOnce(): Promise<void> {
    const lease = this.options.etcd.lease(this.options.ttlSeconds ?? 10);
    lease.on('lost', (error: Error) => this.onLost(lease, error));
    try {
      const leaseId = await lease.grant();
      await lease.put(this.key).value(this.value).exec();
      if (this.stopped) {
        await lease.revoke().catch(() => lease.release());
        return;
      }
      this.lease = lease;
      this.options.logger?.info({ key: this.key, lease: leaseId }, 'registered');
      this.emit('registered', leaseId);
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  private onLost(lease: Lease, error: Error): void {
    if (this.stopped || lease !== this.lease) return;
    this.lease = undefined;
    this.options.logger?.warn({ key: this.key, err: error.message }, 'lease lost; registering again');
    this.emit('lost', error);
    void this.registerUntilDone();
  }
}
