// Envoy as a routing client for the shared scenario tables: calls to `xds:///<service>` become
// plain gRPC calls to Envoy's listener with `<service>` as the authority.
import * as grpc from '@grpc/grpc-js';
import { createEchoClient, echoMethod } from './echo-backend';
import { EnvoyProcess, type EnvoyOptions } from './envoy';
import type { CallOptions, CallResult } from './xds-client-process';

export class EnvoyRoutingClient {
  readonly language: string;
  private readonly channels = new Map<string, ReturnType<typeof createEchoClient>>();

  private constructor(
    readonly envoy: EnvoyProcess,
    private readonly listenerPort: number,
    delta: boolean,
    readonly version: string,
  ) {
    this.language = delta ? 'envoy-delta' : 'envoy';
  }

  /** Starts Envoy against `xdsServer`; the server must give Envoy a listener on 127.0.0.1:`listenerPort`. */
  static async start(
    xdsServer: string,
    listenerPort: number,
    options: EnvoyOptions = {},
  ): Promise<EnvoyRoutingClient> {
    const envoy = await EnvoyProcess.start(xdsServer, options);
    const info = JSON.parse(await envoy.admin('/server_info')) as { version: string };
    const version = info.version.split('/')[1] ?? info.version;
    return new EnvoyRoutingClient(envoy, listenerPort, options.delta ?? false, version);
  }

  get log(): string {
    return this.envoy.log;
  }

  /** Makes `count` sequential calls to Echo/Who through Envoy, as `target` would be routed. */
  async call(target: string, options: CallOptions = {}): Promise<CallResult[]> {
    const authority = target.replace(/^xds:\/\/\//, '');
    let client = this.channels.get(authority);
    if (client === undefined) {
      client = createEchoClient(`127.0.0.1:${this.listenerPort}`, grpc.credentials.createInsecure(), {
        'grpc.default_authority': authority,
      });
      this.channels.set(authority, client);
    }
    const method = echoMethod(client, options.method);
    if (method === undefined) throw new Error(`no such Echo method ${options.method}`);
    const one = (): Promise<CallResult> => {
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
      return new Promise<CallResult>((resolve) =>
        method(
          { caller: 'envoy' },
          metadata,
          { deadline: Date.now() + (options.deadlineMs ?? 5_000) },
          (error, reply) =>
            resolve(
              error
                ? { ok: false, code: error.code, details: error.details }
                : { ok: true, id: reply!.id, version: reply!.version, address: reply!.address },
            ),
        ),
      );
    };
    const count = options.count ?? 1;
    if (options.concurrent === true) {
      // Started 20 ms apart, as the other test clients do.
      const calls: Promise<CallResult>[] = [];
      for (let i = 0; i < count; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
        calls.push(one());
      }
      return Promise.all(calls);
    }
    const results: CallResult[] = [];
    for (let i = 0; i < count; i++) results.push(await one());
    return results;
  }

  async stop(): Promise<void> {
    for (const client of this.channels.values()) client.close();
    await this.envoy.stop();
  }
}
