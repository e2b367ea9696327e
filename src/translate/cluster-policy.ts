// The cluster settings of a policy (contract §8): circuit breaking (gRFC A32) and outlier
// detection (gRFC A50), the same for every flavour except where Envoy needs more said.
import type { Cluster } from '../generated/envoy/config/cluster/v3/Cluster';
import type { ClusterPolicy } from '../registry/policy';
import { protoDuration } from './render-route';

export function clusterPolicy(policy: ClusterPolicy, flavour: 'grpc' | 'envoy'): Partial<Cluster> {
  const fields: Partial<Cluster> = {};
  if (policy.maxRequests !== undefined)
    fields.circuit_breakers = {
      thresholds: [{ priority: 'DEFAULT', max_requests: { value: policy.maxRequests } }],
    };
  const outlier = policy.outlierDetection;
  if (outlier !== undefined) {
    const { successRate: success, failurePercentage: failure } = outlier;
    fields.outlier_detection = {
      interval: protoDuration(outlier.intervalMs),
      base_ejection_time: protoDuration(outlier.baseEjectionMs),
      max_ejection_time: protoDuration(outlier.maxEjectionMs),
      max_ejection_percent: { value: outlier.maxEjectionPercent },
      // An algorithm left out is enforced at 0 %: gRPC then ignores it, and Envoy (whose
      // success-rate enforcement defaults to 100 %) does not run it.
      enforcing_success_rate: { value: success?.enforcementPercentage ?? 0 },
      ...(success && {
        success_rate_stdev_factor: { value: success.stdevFactor },
        success_rate_minimum_hosts: { value: success.minimumHosts },
        success_rate_request_volume: { value: success.requestVolume },
      }),
      enforcing_failure_percentage: { value: failure?.enforcementPercentage ?? 0 },
      ...(failure && {
        failure_percentage_threshold: { value: failure.threshold },
        failure_percentage_minimum_hosts: { value: failure.minimumHosts },
        failure_percentage_request_volume: { value: failure.requestVolume },
      }),
      // Envoy's consecutive-error ejections (on by default) are off, so it ejects as gRPC does.
      ...(flavour === 'envoy' && {
        enforcing_consecutive_5xx: { value: 0 },
        enforcing_consecutive_gateway_failure: { value: 0 },
        enforcing_consecutive_local_origin_failure: { value: 0 },
      }),
    };
  }
  return fields;
}
