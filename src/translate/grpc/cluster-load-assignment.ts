// The endpoints of one cluster for proxyless gRPC clients, grouped into weighted localities.
import type { ClusterLoadAssignment } from '../../generated/envoy/config/endpoint/v3/ClusterLoadAssignment';
import type { LocalityLbEndpoints } from '../../generated/envoy/config/endpoint/v3/LocalityLbEndpoints';
import type { Instance } from '../../registry/instance';
import { HEALTH_STATUS_DRAINING } from '../endpoint-encoding';
import type { LbPolicy } from '../../registry/policy';
import { formatSocketAddress } from '../../registry/address';
import { compareStrings } from '../../stable-order';
import { ByteWriter, delimitedFieldSize, utf8Length, varintFieldSize } from '../../proto/wire';

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
  return {
    cluster_name: clusterName,
    endpoints: localityGroups(instances, ringHash).map((group): LocalityLbEndpoints => ({
      // Empty fields are left out, so the encoding is the canonical proto3 one.
      locality: {
        ...(group.zone ? { zone: group.zone } : {}),
        ...(group.subZone ? { sub_zone: group.subZone } : {}),
      },
      load_balancing_weight: { value: localityWeight(group) },
      ...(secondPriority(group, preferredZone) && { priority: 1 }),
      lb_endpoints: byAddress(group.instances).map((instance) => ({
        endpoint: {
          address: { socket_address: { address: instance.address.ip, port_value: instance.address.port } },
        },
        load_balancing_weight: { value: endpointWeight(instance, ringHash) },
        ...(instance.status === 'draining' && { health_status: HEALTH_STATUS_DRAINING }),
      })),
    })),
  };
}

/**
 * The bytes protobufjs gives for grpcClusterLoadAssignment(…) of the same arguments, written
 * directly (sizes first, then one buffer): endpoints are what churn re-encodes, and building the
 * message only to encode it cost an object tree, a protobufjs writer operation per field and
 * their garbage. Fields in field-number order, defaults left out, as protobufjs writes them;
 * test/unit/translate/endpoint-encoding.test.ts checks both give the same bytes.
 */
export function encodeGrpcClusterLoadAssignment(
  clusterName: string,
  instances: readonly Instance[],
  lbPolicy: LbPolicy,
  preferredZone?: string,
): Uint8Array {
  const ringHash = lbPolicy === 'ring_hash';
  const groups = localityGroups(instances, ringHash).map((group) => {
    const endpoints = byAddress(group.instances).map((instance) => {
      const ip = utf8Length(instance.address.ip);
      const socket = delimitedFieldSize(ip) + varintFieldSize(instance.address.port);
      const address = delimitedFieldSize(socket);
      const endpoint = delimitedFieldSize(address);
      const weight = endpointWeight(instance, ringHash);
      const weightValue = varintFieldSize(weight);
      const draining = instance.status === 'draining';
      const size =
        delimitedFieldSize(endpoint) +
        (draining ? varintFieldSize(HEALTH_STATUS_DRAINING) : 0) +
        delimitedFieldSize(weightValue);
      return { instance, ip, socket, address, endpoint, weight, weightValue, draining, size };
    });
    const zone = utf8Length(group.zone);
    const subZone = utf8Length(group.subZone);
    const locality =
      (zone > 0 ? delimitedFieldSize(zone) : 0) + (subZone > 0 ? delimitedFieldSize(subZone) : 0);
    const weight = localityWeight(group);
    const weightValue = varintFieldSize(weight);
    const priority = secondPriority(group, preferredZone);
    let size =
      delimitedFieldSize(locality) + delimitedFieldSize(weightValue) + (priority ? varintFieldSize(1) : 0);
    for (const e of endpoints) size += delimitedFieldSize(e.size);
    return { group, endpoints, zone, subZone, locality, weight, weightValue, priority, size };
  });
  const name = utf8Length(clusterName);
  let total = name > 0 ? delimitedFieldSize(name) : 0;
  for (const g of groups) total += delimitedFieldSize(g.size);

  const out = new ByteWriter(total);
  if (name > 0) out.tag(0x0a).varint(name).string(clusterName, name);
  for (const g of groups) {
    out.tag(0x12).varint(g.size);
    out.tag(0x0a).varint(g.locality);
    if (g.zone > 0) out.tag(0x12).varint(g.zone).string(g.group.zone, g.zone);
    if (g.subZone > 0) out.tag(0x1a).varint(g.subZone).string(g.group.subZone, g.subZone);
    for (const e of g.endpoints) {
      out.tag(0x12).varint(e.size);
      out.tag(0x0a).varint(e.endpoint).tag(0x0a).varint(e.address).tag(0x0a).varint(e.socket);
      out
        .tag(0x12)
        .varint(e.ip)
        .string(e.instance.address.ip, e.ip)
        .tag(0x18)
        .varint(e.instance.address.port);
      if (e.draining) out.tag(0x10).varint(HEALTH_STATUS_DRAINING);
      out.tag(0x22).varint(e.weightValue).tag(0x08).varint(e.weight);
    }
    out.tag(0x1a).varint(g.weightValue).tag(0x08).varint(g.weight);
    if (g.priority) out.tag(0x28).varint(1);
  }
  return out.finish();
}

/** Instances grouped into localities (see grpcClusterLoadAssignment), in locality order. */
function localityGroups(instances: readonly Instance[], ringHash: boolean): LocalityGroup[] {
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
  return [...groups.values()].sort(
    (a, b) => compareStrings(a.zone, b.zone) || compareStrings(a.subZone, b.subZone),
  );
}

/**
 * Clients drop a locality without a weight: every locality carries one (one of draining instances
 * alone, whose endpoints no client uses, keeps their weight).
 */
function localityWeight(group: LocalityGroup): number {
  return group.weight > 0 ? group.weight : group.instances.reduce((sum, i) => sum + i.weight, 0);
}

/** Ring hash weighs endpoints by their locality's weight (one locality each): 1 here. */
function endpointWeight(instance: Instance, ringHash: boolean): number {
  return ringHash ? 1 : instance.weight;
}

/** With zone affinity, localities outside the caller's zone are at priority 1. */
function secondPriority(group: LocalityGroup, preferredZone: string | undefined): boolean {
  return preferredZone !== undefined && group.zone !== preferredZone;
}

/** Instances in the order of their addresses as text, each formatted once. */
function byAddress(instances: readonly Instance[]): Instance[] {
  if (instances.length < 2) return [...instances];
  return instances
    .map((instance) => ({ instance, address: formatSocketAddress(instance.address) }))
    .sort((a, b) => compareStrings(a.address, b.address))
    .map(({ instance }) => instance);
}
