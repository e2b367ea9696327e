// The Echo service of the demo app and the tests: every call answers which instance served it.
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ECHO_PROTO = path.join(__dirname, '../../protos/etcd_xds/demo/v1/echo.proto');
export const ECHO_SERVICE = 'etcd_xds.demo.v1.Echo';

export interface WhoReply {
  service: string;
  id: string;
  version: string;
  address: string;
  headers: Record<string, string>;
}

type EchoMethod = (
  request: { caller?: string },
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, reply?: WhoReply) => void,
) => grpc.ClientUnaryCall;

export interface EchoServiceClient extends grpc.Client {
  Who: EchoMethod;
  /** The same answer under another method name (for routes that match on the method). */
  WhoElse: EchoMethod;
}

/** The Echo methods by full path, for test clients that are told which one to call. */
export const ECHO_METHODS = {
  [`/${ECHO_SERVICE}/Who`]: 'Who',
  [`/${ECHO_SERVICE}/WhoElse`]: 'WhoElse',
} as const satisfies Record<string, keyof EchoServiceClient>;

/** The client method for a full method path (Who when none is given); undefined for another. */
export function echoMethod(client: EchoServiceClient, path: string | undefined): EchoMethod | undefined {
  const name =
    path === undefined ? 'Who' : (ECHO_METHODS as Record<string, 'Who' | 'WhoElse' | undefined>)[path];
  return name === undefined ? undefined : client[name].bind(client);
}

export interface EchoIdentity {
  service: string;
  id: string;
  version: string;
}

export interface EchoServer {
  /** `host:port` the server is bound to. */
  readonly address: string;
  readonly port: number;
  /** Finishes calls in flight, then closes (forcefully after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

let packageDefinition: protoLoader.PackageDefinition | undefined;

function echoConstructor(): grpc.ServiceClientConstructor {
  packageDefinition ??= protoLoader.loadSync(ECHO_PROTO, { keepCase: true, defaults: true });
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    etcd_xds: { demo: { v1: { Echo: grpc.ServiceClientConstructor } } };
  };
  return loaded.etcd_xds.demo.v1.Echo;
}

export function createEchoClient(
  target: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): EchoServiceClient {
  const Echo = echoConstructor();
  return new Echo(target, credentials, options) as unknown as EchoServiceClient;
}

/**
 * Serves Echo on `host:port` (port 0 picks a free one). Replies carry `identity`, the address
 * clients reach it at (`advertise`, default the bound address) and the request headers.
 */
export async function startEchoServer(
  identity: EchoIdentity,
  listen: { host: string; port: number; advertise?: string },
  /**
   * Runs before each call is answered (tests make backends slow or failing with it): resolves
   * to a status to fail the call with, or undefined to answer it.
   */
  before?: (
    call: grpc.ServerUnaryCall<unknown, WhoReply>,
  ) => Promise<{ code: grpc.status; details: string } | undefined>,
): Promise<EchoServer> {
  const server = new grpc.Server();
  let advertised = listen.advertise ?? '';
  const reply = (
    call: grpc.ServerUnaryCall<unknown, WhoReply>,
    callback: grpc.sendUnaryData<WhoReply>,
  ): void => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(call.metadata.getMap())) {
      if (typeof value === 'string') headers[key] = value;
    }
    callback(null, { ...identity, address: advertised, headers });
  };
  const who = (
    call: grpc.ServerUnaryCall<unknown, WhoReply>,
    callback: grpc.sendUnaryData<WhoReply>,
  ): void => {
    if (before === undefined) {
      reply(call, callback);
      return;
    }
    void before(call).then((failure) =>
      failure === undefined ? reply(call, callback) : callback({ ...failure, metadata: new grpc.Metadata() }),
    );
  };
  server.addService(echoConstructor().service, { Who: who, WhoElse: who });
  const bindHost = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${bindHost}:${listen.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const address = `${bindHost}:${port}`;
  if (advertised === '') advertised = address;
  return {
    address,
    port,
    stop: (graceMs = 1_000) =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), graceMs).unref();
      }),
  };
}
