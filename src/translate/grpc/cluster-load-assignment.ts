// The endpoints of one cluster for proxyless gRPC clients, grouped into weighted localities.
import type { ClusterLoadAssignment } from '../../generated/envoy/config/endpoint/v3/ClusterLoadAssignment';
import type { LocalityLbEndpoints } from '../../generated/envoy/config/endpoint/v3/LocalityLbEndpoints';
import type { Instance } from '../../registry/instance';
import { HEALTH_STATUS_DRAINING } from '../endpoint-encoding';
import type { LbPolicy } from '../../registry/policy';
import { formatSocketAddress } from '../../registry/address';
import { compareStrings } from '../../stable-order';

interface LocalityGroup {
  readonly zone: string;
  readonly subZone: string;
  /** Sum of the instances' weights. */
  weight: number;
  readonly instances: Instance[];
}

/**
 * Traffic per instance must follow its weight in every client. gRPC's round robin ignores
 * endpoint weights and splits by locality weight, so round-robin clusters group instances by
 * (zone, weight) — sub_zone `weight-<w>` for w ≠ 1 — with locality weight = the sum of the
 * group's weights. Ring hash weighs each endpoint by locality weight × endpoint weight, so each
 * instance gets a locality of its own (sub_zone = its address) weighted by its weight.
 *
 * @param instances must have distinct addresses (the catalog guarantees it per service).
 */
export function grpcClusterLoadAssignment(
  clusterName: string,
  instances: readonly Instance[],
  lbPolicy: LbPolicy,
  /** Zone affinity (contract §10): this zone's localities at priority 0, the others at 1. */
  preferredZone?: string,
): ClusterLoadAssignment {
  const ringHash = lbPolicy === 'ring_hash';
  const groups = new Map<string, LocalityGroup>();
  for (const instance of instances) {
    const subZone = ringHash
      ? formatSocketAddress(instance.address)
      : instance.weight === 1
        ? ''
        : `weight-${instance.weight}`;
    const key = `${instance.zone}\u0000${subZone}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { zone: instance.zone, subZone, weight: 0, instances: [] };
      groups.set(key, group);
    }
    group.instances.push(instance);
    if (instance.status === 'serving') group.weight += instance.weight;
  }
  const ordered = [...groups.values()].sort(
    (a, b) => compareStrings(a.zone, b.zone) || compareStrings(a.subZone, b.subZone),
  );
  return {
    cluster_name: clusterName,
    endpoints: ordered.map((group): LocalityLbEndpoints => ({
      // Empty fields are left out, so the encoding is the canonical proto3 one.
      locality: {
        ...(group.zone ? { zone: group.zone } : {}),
        ...(group.subZone ? { sub_zone: group.subZone } : {}),
      },
      // Clients drop a locality without a weight: every locality carries one (one of draining
      // instances alone, whose endpoints no client uses, keeps their weight).
      load_balancing_weight: {
        value: group.weight > 0 ? group.weight : group.instances.reduce((sum, i) => sum + i.weight, 0),
      },
      ...(preferredZone !== undefined && group.zone !== preferredZone && { priority: 1 }),
      lb_endpoints: byAddress(group.instances).map((instance) => ({
        endpoint: {
          address: { socket_address: { address: instance.address.ip, port_value: instance.address.port } },
        },
        load_balancing_weight: { value: ringHash ? 1 : instance.weight },
        ...(instance.status === 'draining' && { health_status: HEALTH_STATUS_DRAINING }),
      })),
    })),
  };
}

/** Instances in the order of their addresses as text, each formatted once. */
function byAddress(instances: readonly Instance[]): Instance[] {
  if (instances.length < 2) return [...instances];
  return instances
    .map((instance) => ({ instance, address: formatSocketAddress(instance.address) }))
    .sort((a, b) => compareStrings(a.address, b.address))
    .map(({ instance }) => instance);
}
