// The Listener a proxyless gRPC client asks for when it dials xds:///<service>: an API listener
// whose HttpConnectionManager fetches the service's RouteConfiguration over ADS.
import type { Listener } from '../../generated/envoy/config/listener/v3/Listener';
import { packAny } from '../any';
import { HCM_MESSAGE, httpFilters } from '../filters';
import { routeConfigurationName } from '../resource-names';

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
        http_filters: httpFilters(),
      }),
    },
  };
}
