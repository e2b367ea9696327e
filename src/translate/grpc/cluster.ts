// The Clusters of a service for proxyless gRPC clients: EDS over ADS, with the policy's LB.
import type { Cluster } from '../../generated/envoy/config/cluster/v3/Cluster';
import type { LbPolicy, RoutingPolicy } from '../../registry/policy';
import { clusterPolicy } from '../cluster-policy';

/** gRPC clients reject LEAST_REQUEST and RANDOM; they get round robin instead (contract §4). */
export function grpcLbPolicy(policy: LbPolicy): 'ROUND_ROBIN' | 'RING_HASH' {
  return policy === 'ring_hash' ? 'RING_HASH' : 'ROUND_ROBIN';
}

export function grpcCluster(name: string, policy: RoutingPolicy): Cluster {
  const lb = grpcLbPolicy(policy.lbPolicy);
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    lb_policy: lb,
    // gRPC clients only implement XX_HASH.
    ...(lb === 'RING_HASH' ? { ring_hash_lb_config: { hash_function: 'XX_HASH' } } : {}),
    ...clusterPolicy(policy, 'grpc'),
  };
}
