// The endpoints of one cluster for Envoy: one locality per zone, weighted by the sum of its
// instances' weights; Envoy balances by endpoint weight inside a locality.
import type { ClusterLoadAssignment } from '../../generated/envoy/config/endpoint/v3/ClusterLoadAssignment';
import type { Instance } from '../../registry/instance';
import { HEALTH_STATUS_DRAINING } from '../endpoint-encoding';
import { formatSocketAddress } from '../../registry/address';
import { compareStrings } from '../../stable-order';

/** The serving instances' weights; a locality of draining instances alone keeps theirs. */
function localityWeight(members: readonly Instance[]): number {
  const serving = members.reduce((sum, i) => sum + (i.status === 'serving' ? i.weight : 0), 0);
  return serving > 0 ? serving : members.reduce((sum, i) => sum + i.weight, 0);
}

export function envoyClusterLoadAssignment(
  clusterName: string,
  instances: readonly Instance[],
  /** Zone affinity (contract §10): this zone's locality at priority 0, the others at 1. */
  preferredZone?: string,
): ClusterLoadAssignment {
  const zones = new Map<string, Instance[]>();
  for (const instance of instances) {
    const members = zones.get(instance.zone);
    if (members) members.push(instance);
    else zones.set(instance.zone, [instance]);
  }
  return {
    cluster_name: clusterName,
    endpoints: [...zones]
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([zone, members]) => ({
        locality: zone ? { zone } : {},
        load_balancing_weight: { value: localityWeight(members) },
        ...(preferredZone !== undefined && zone !== preferredZone && { priority: 1 }),
        lb_endpoints: [...members]
          .sort((a, b) => compareStrings(formatSocketAddress(a.address), formatSocketAddress(b.address)))
          .map((instance) => ({
            endpoint: {
              address: {
                socket_address: { address: instance.address.ip, port_value: instance.address.port },
              },
            },
            load_balancing_weight: { value: instance.weight },
            ...(instance.status === 'draining' && { health_status: HEALTH_STATUS_DRAINING }),
          })),
      })),
  };
}
