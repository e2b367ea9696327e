// Builds the gRPC xDS bootstrap file that points proxyless clients at etcd-xds.
import * as os from 'node:os';

export interface BootstrapOptions {
  /** One or more `host:port`, in order of preference. */
  readonly servers: readonly string[];
  readonly nodeId?: string;
  readonly cluster?: string;
  readonly zone?: string;
}

export function grpcBootstrap(options: BootstrapOptions): object {
  return {
    xds_servers: options.servers.map((server) => ({
      server_uri: server,
      channel_creds: [{ type: 'insecure' }],
      // ignore_resource_deletion: if every instance of a service vanishes (or a prefix is wiped
      // by mistake), clients keep their last config instead of failing the channel (gRFC A53).
      server_features: ['xds_v3', 'ignore_resource_deletion'],
    })),
    node: {
      id: options.nodeId ?? `${os.hostname()}`,
      ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
      // grpc-js requires a locality, even an empty one.
      locality: options.zone !== undefined ? { zone: options.zone } : {},
    },
  };
}
