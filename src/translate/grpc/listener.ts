// The Listener a proxyless gRPC client asks for when it dials xds:///<service>: an API listener
// whose HttpConnectionManager fetches the service's RouteConfiguration over ADS.
import type { Listener } from '../../generated/envoy/config/listener/v3/Listener';
import { packAny } from '../any';
import { routeConfigurationName } from '../resource-names';

export const HCM_MESSAGE =
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const FAULT_MESSAGE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';
export const ROUTER_MESSAGE = 'envoy.extensions.filters.http.router.v3.Router';
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';
export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';

/**
 * @param name the name the client asked for: `<service>` or `<service>:<port>`.
 */
export function grpcListener(name: string, service: string): Listener {
  return {
    name,
    api_listener: {
      api_listener: packAny(HCM_MESSAGE, {
        stat_prefix: service,
        rds: {
          config_source: { ads: {}, resource_api_version: 'V3' },
          route_config_name: routeConfigurationName(service),
        },
        // The fault filter does nothing by itself; routes that must fail calls with UNAVAILABLE
        // override it per route (gRFC A33). Clients require the router filter last.
        http_filters: [
          { name: FAULT_FILTER_NAME, typed_config: packAny(FAULT_MESSAGE, {}) },
          { name: ROUTER_FILTER_NAME, typed_config: packAny(ROUTER_MESSAGE, {}) },
        ],
      }),
    },
  };
}
