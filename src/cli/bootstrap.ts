// Builds the gRPC xDS bootstrap file that points proxyless clients at etcd-xds.
import { isIP } from 'node:net';
import * as os from 'node:os';
import { checkLabelKey, checkLabelValue } from '../registry/names';

/** TLS to etcd-xds: the CA that signed its certificate, and the client's own for mutual TLS. */
export interface ClientTls {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface BootstrapOptions {
  /** One or more `host:port`, in order of preference. */
  readonly servers: readonly string[];
  readonly nodeId?: string;
  readonly cluster?: string;
  readonly zone?: string;
  readonly tls?: ClientTls;
  /** Caller labels (contract §7), written into `node.metadata`. */
  readonly labels?: ReadonlyMap<string, string>;
}

/**
 * The caller labels of `--service`, `--version` and each `--label K=V`, checked (keys 1-63 of
 * [A-Za-z0-9._-], values 0-253 printable ASCII, each key once); an error message names the label.
 */
export function bootstrapLabels(options: {
  readonly service?: string;
  readonly version?: string;
  readonly label?: readonly string[];
}): { ok: true; labels: Map<string, string> } | { ok: false; message: string } {
  const given: [string, string, string][] = [];
  if (options.service !== undefined) given.push(['--service', 'service', options.service]);
  if (options.version !== undefined) given.push(['--version', 'version', options.version]);
  for (const label of options.label ?? []) {
    const equals = label.indexOf('=');
    if (equals < 0) return { ok: false, message: `--label ${JSON.stringify(label)}: must be KEY=VALUE` };
    given.push(['--label', label.slice(0, equals), label.slice(equals + 1)]);
  }
  const labels = new Map<string, string>();
  for (const [flag, key, value] of given) {
    const problem = checkLabelKey(key) ?? checkLabelValue(key, value);
    if (problem !== undefined) return { ok: false, message: `${flag}: ${problem}` };
    if (labels.has(key))
      return { ok: false, message: `${flag}: label ${JSON.stringify(key)} is given twice` };
    labels.set(key, value);
  }
  return { ok: true, labels };
}

/** `node.metadata` holding the caller labels, when there are any. */
function metadata(labels: ReadonlyMap<string, string> | undefined): { metadata?: Record<string, string> } {
  return labels === undefined || labels.size === 0 ? {} : { metadata: Object.fromEntries(labels) };
}

export function grpcBootstrap(options: BootstrapOptions): object {
  return {
    xds_servers: options.servers.map((server) => ({
      server_uri: server,
      // gRFC A65: TLS with files (C-core 1.57+, grpc-go, grpc-java); grpc-js supports only insecure.
      channel_creds:
        options.tls === undefined
          ? [{ type: 'insecure' }]
          : [
              {
                type: 'tls',
                config: {
                  ca_certificate_file: options.tls.ca,
                  ...(options.tls.cert !== undefined ? { certificate_file: options.tls.cert } : {}),
                  ...(options.tls.key !== undefined ? { private_key_file: options.tls.key } : {}),
                },
              },
            ],
      // ignore_resource_deletion: if every instance of a service vanishes (or a prefix is wiped
      // by mistake), clients keep their last config instead of failing the channel (gRFC A53).
      server_features: ['xds_v3', 'ignore_resource_deletion'],
    })),
    node: {
      id: options.nodeId ?? `${os.hostname()}`,
      ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
      ...metadata(options.labels),
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
      ...metadata(options.labels),
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
          ...(options.tls === undefined
            ? {}
            : {
                transport_socket: envoyTlsSocket(
                  options.tls,
                  servers.map(({ host }) => host),
                ),
              }),
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

/**
 * Envoy's TLS to etcd-xds: verify its certificate against the CA and, since Envoy checks no name
 * unless told to, that it was issued to one of the configured server names or IPs (as gRPC
 * clients do); present the client certificate for mutual TLS.
 */
function envoyTlsSocket(tls: ClientTls, hosts: readonly string[]): object {
  const sni = hosts.find((host) => isIP(host) === 0);
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      ...(sni !== undefined ? { sni } : {}),
      common_tls_context: {
        // etcd-xds is a gRPC server: HTTP/2 over ALPN.
        alpn_protocols: ['h2'],
        validation_context: {
          trusted_ca: { filename: tls.ca },
          match_typed_subject_alt_names: [...new Set(hosts)].map((host) => ({
            san_type: isIP(host) === 0 ? 'DNS' : 'IP_ADDRESS',
            matcher: { exact: host },
          })),
        },
        ...(tls.cert !== undefined && tls.key !== undefined
          ? {
              tls_certificates: [
                { certificate_chain: { filename: tls.cert }, private_key: { filename: tls.key } },
              ],
            }
          : {}),
      },
    },
  };
}
