// A real gRPC backend for the demo and tests: answers Echo/Who with which instance it is.
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ECHO_PROTO = path.join(__dirname, '../protos/etcd_xds/demo/v1/echo.proto');
export const ECHO_SERVICE = 'etcd_xds.demo.v1.Echo';

export interface WhoReply {
  service: string;
  id: string;
  version: string;
  address: string;
  headers: Record<string, string>;
}

interface EchoServiceClient extends grpc.Client {
  Who(
    request: { caller?: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, reply?: WhoReply) => void,
  ): grpc.ClientUnaryCall;
}

let packageDefinition: protoLoader.PackageDefinition | undefined;

function echoDefinition(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.loadSync(ECHO_PROTO, { keepCase: true, defaults: true });
  return packageDefinition;
}

function echoClientConstructor(): grpc.ServiceClientConstructor {
  const loaded = grpc.loadPackageDefinition(echoDefinition()) as unknown as {
    etcd_xds: { demo: { v1: { Echo: grpc.ServiceClientConstructor } } };
  };
  return loaded.etcd_xds.demo.v1.Echo;
}

export function createEchoClient(
  target: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): EchoServiceClient {
  const Echo = echoClientConstructor();
  return new Echo(target, credentials, options) as unknown as EchoServiceClient;
}

export interface EchoBackend {
  readonly address: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startEchoBackend(identity: {
  service: string;
  id: string;
  version: string;
}): Promise<EchoBackend> {
  const server = new grpc.Server();
  const Echo = echoClientConstructor();
  let address = '';
  server.addService(Echo.service, {
    Who: (call: grpc.ServerUnaryCall<unknown, WhoReply>, callback: grpc.sendUnaryData<WhoReply>) => {
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(call.metadata.getMap())) {
        if (typeof value === 'string') headers[key] = value;
      }
      callback(null, { ...identity, address, headers });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  address = `127.0.0.1:${port}`;
  return {
    address,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1_000).unref();
      }),
  };
}
