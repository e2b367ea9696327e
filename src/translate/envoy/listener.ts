// The socket listener an Envoy next to an application serves: plaintext HTTP/1.1 or HTTP/2
// (h2c, as gRPC clients speak it), routed by authority to one virtual host per service.
import type { Listener } from '../../generated/envoy/config/listener/v3/Listener';
import { packAny } from '../any';
import { HCM_MESSAGE, httpFilters } from '../filters';

export const ENVOY_LISTENER_NAME = 'etcd-xds';
export const ENVOY_ROUTE_CONFIGURATION_NAME = 'etcd-xds';

export interface EnvoyListenerAddress {
  readonly host: string;
  readonly port: number;
}

export function envoyListener(address: EnvoyListenerAddress): Listener {
  return {
    name: ENVOY_LISTENER_NAME,
    address: { socket_address: { address: address.host, port_value: address.port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: packAny(HCM_MESSAGE, {
              stat_prefix: 'etcd_xds',
              codec_type: 'AUTO',
              rds: {
                config_source: { ads: {}, resource_api_version: 'V3' },
                route_config_name: ENVOY_ROUTE_CONFIGURATION_NAME,
              },
              http_filters: httpFilters(),
            }),
          },
        ],
      },
    ],
  };
}
