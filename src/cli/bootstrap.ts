// Builds the gRPC xDS bootstrap file that points proxyless clients at etcd-xds.
import { isIP } from 'node:net';
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

export interface EnvoyBootstrapOptions extends BootstrapOptions {
  /** Incremental (delta) xDS instead of state of the world. */
  readonly delta?: boolean;
  /** Envoy's admin listener port on 127.0.0.1. */
  readonly adminPort?: number;
}

function splitHostPort(server: string): { host: string; port: number } {
  const colon = server.lastIndexOf(':');
  return { host: server.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(server.slice(colon + 1)) };
}

/**
 * An Envoy bootstrap (JSON, which Envoy also reads as YAML) that gets listeners and clusters from
 * etcd-xds over ADS. The servers form one static cluster, so Envoy fails over between them.
 */
export function envoyBootstrap(options: EnvoyBootstrapOptions): object {
  const servers = options.servers.map(splitHostPort);
  const allIps = servers.every(({ host }) => isIP(host) !== 0);
  return {
    node: {
      id: options.nodeId ?? os.hostname(),
      cluster: options.cluster ?? 'etcd-xds-envoy',
      ...(options.zone !== undefined ? { locality: { zone: options.zone } } : {}),
    },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: options.adminPort ?? 9901 } } },
    dynamic_resources: {
      ads_config: {
        api_type: options.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'etcd-xds' } }],
        set_node_on_first_message_only: true,
      },
      lds_config: { ads: {}, resource_api_version: 'V3' },
      cds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        {
          name: 'etcd-xds',
          type: allIps ? 'STATIC' : 'STRICT_DNS',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: 'etcd-xds',
            endpoints: [
              {
                lb_endpoints: servers.map(({ host, port }) => ({
                  endpoint: { address: { socket_address: { address: host, port_value: port } } },
                })),
              },
            ],
          },
        },
      ],
    },
  };
}
