// The Clusters of a service for proxyless gRPC clients: EDS over ADS, with the policy's LB.
import type { Cluster } from '../../generated/envoy/config/cluster/v3/Cluster';
import type { LbPolicy, RoutingPolicy } from '../../registry/policy';
import { clusterPolicy } from '../cluster-policy';

/**
 * The cluster LB policy: least_request only for clients that implement it (`leastRequest`; see
 * flavour.ts), round robin for the others, which reject LEAST_REQUEST clusters.
 */
export function grpcLbPolicy(
  policy: LbPolicy,
  leastRequest = false,
): 'ROUND_ROBIN' | 'RING_HASH' | 'LEAST_REQUEST' {
  if (policy === 'ring_hash') return 'RING_HASH';
  return policy === 'least_request' && leastRequest ? 'LEAST_REQUEST' : 'ROUND_ROBIN';
}

export function grpcCluster(name: string, policy: RoutingPolicy, leastRequest = false): Cluster {
  const lb = grpcLbPolicy(policy.lbPolicy, leastRequest);
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
