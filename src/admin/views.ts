// JSON views of cache and server state for /debug/*: read-only, nothing secret.
import type { Snapshot } from '../cache/snapshot';
import { decodeToJson } from '../proto/proto-root';
import { PUSH_ORDER } from '../proto/xds-types';
import type { Catalog } from '../registry/catalog';
import { formatSocketAddress } from '../registry/address';
import type { RegistryStatus } from '../registry/etcd-registry';
import type { StreamView } from '../server/xds-server';

export function configDumpView(
  snapshot: Snapshot | undefined,
  catalog: Catalog | undefined,
  registry: RegistryStatus,
  flavours: { readonly flavour: string; readonly built: readonly string[] },
): object {
  return {
    flavour: flavours.flavour,
    flavoursInUse: flavours.built,
    registry,
    catalog:
      catalog === undefined
        ? null
        : {
            revision: catalog.revision,
            services: [...catalog.services.values()].map((service) => ({
              name: service.name,
              policy: service.policy.key ?? null,
              policySettings: { ...service.policy, key: undefined },
              instances: service.instances.map((instance) => ({
                key: instance.key,
                id: instance.id,
                version: instance.version ?? null,
                address: formatSocketAddress(instance.address),
                weight: instance.weight,
                zone: instance.zone,
                metadata: instance.metadata ?? null,
              })),
              shadowed: service.shadowed,
            })),
            rejected: [...catalog.rejected].map(([key, { kind, problem }]) => ({
              key,
              kind,
              code: problem.code,
              error: problem.message,
            })),
          },
    resources:
      snapshot === undefined
        ? null
        : Object.fromEntries(
            PUSH_ORDER.map((type) => [
              type.short,
              {
                typeUrl: type.typeUrl,
                versionInfo: snapshot.typeVersion(type),
                resources: [...snapshot.all(type)].map((resource) => ({
                  name: resource.name,
                  version: resource.version,
                  resource: decodeToJson(type.messageName, resource.bytes),
                })),
              },
            ]),
          ),
  };
}

export function clientsView(views: readonly StreamView[]): object {
  return {
    clients: views.map(({ state: stream, profile, protocol, onlyType, writes }) => ({
      stream: stream.id,
      protocol,
      service: onlyType?.short ?? 'ADS',
      kind: profile?.kind ?? null,
      flavour: profile?.flavour ?? null,
      peer: stream.peer,
      connectedAt: new Date(stream.connectedAt).toISOString(),
      node:
        stream.node === null
          ? null
          : {
              id: stream.node.id,
              cluster: stream.node.cluster,
              userAgentName: stream.node.user_agent_name,
              userAgentVersion: stream.node.user_agent_version ?? null,
              locality: stream.node.locality,
            },
      writes: {
        unflushed: writes.unflushed,
        unflushedSeconds: Math.round(writes.unflushedMs) / 1000,
        heldPushes: writes.heldPushes,
      },
      subscriptions: Object.fromEntries(
        [...stream.subscriptions.values()].map((subscription) => [
          subscription.type.short,
          {
            wildcard: subscription.wildcard,
            names: [...subscription.names.keys()].sort(),
            lastSent:
              subscription.lastNonce === undefined
                ? null
                : {
                    versionInfo: subscription.lastSentVersion,
                    nonce: subscription.lastNonce,
                    at: iso(subscription.lastSentAt),
                    resources: Object.fromEntries(subscription.sent),
                  },
            lastAck:
              subscription.ackedVersion === undefined
                ? null
                : { versionInfo: subscription.ackedVersion, at: iso(subscription.ackedAt) },
            lastNack:
              subscription.lastNack === undefined
                ? null
                : { ...subscription.lastNack, at: iso(subscription.lastNack.at) },
          },
        ]),
      ),
    })),
  };
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}
