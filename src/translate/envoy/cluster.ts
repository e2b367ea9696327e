// The Clusters of a service for Envoy: EDS over ADS, HTTP/2 to the (gRPC) backends, the
// policy's load balancer, locality weights honoured.
import type { Cluster } from '../../generated/envoy/config/cluster/v3/Cluster';
import type { LbPolicy, RoutingPolicy } from '../../registry/policy';
import { clusterPolicy } from '../cluster-policy';
import { packAny } from '../any';

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

const LB_POLICIES: Record<LbPolicy, 'ROUND_ROBIN' | 'RING_HASH' | 'LEAST_REQUEST'> = {
  round_robin: 'ROUND_ROBIN',
  ring_hash: 'RING_HASH',
  least_request: 'LEAST_REQUEST',
};

export function envoyCluster(name: string, policy: RoutingPolicy): Cluster {
  const { lbPolicy } = policy;
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    connect_timeout: { seconds: 1 },
    lb_policy: LB_POLICIES[lbPolicy],
    // Zones are weighted by the sum of their instances' weights; ring hash weighs endpoints only.
    ...(lbPolicy === 'ring_hash' ? {} : { common_lb_config: { locality_weighted_lb_config: {} } }),
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: packAny(HTTP_PROTOCOL_OPTIONS, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    },
    ...clusterPolicy(policy, 'envoy'),
  };
}
