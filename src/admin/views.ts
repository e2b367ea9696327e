// JSON views of cache and server state for /debug/*: read-only, nothing secret. Views are lazy
// (see json-stream.ts): their big parts are produced while they are written, a slice at a time.
import type { Snapshot } from '../cache/snapshot';
import { PUSH_ORDER, type XdsType } from '../proto/xds-types';
import type { Catalog, ServiceCatalog } from '../registry/catalog';
import { formatSocketAddress } from '../registry/address';
import type { RegistryStatus } from '../registry/etcd-registry';
import type { StreamView } from '../server/xds-server';
import type { TypeSubscription } from '../server/type-subscription';
import { LazyArray, LazyObject, lazyFields, lazyMap } from './json-stream';
import { messageJson } from './lazy-decode';

/** What /debug/config_dump is asked to show (every part when a filter is absent). */
export interface ConfigDumpFilter {
  /** Services: their catalog entries, their resources, and rejected keys that name them. */
  readonly services?: ReadonlySet<string>;
  readonly types?: ReadonlySet<XdsType>;
}

/**
 * The service a resource name belongs to: `app` for `app`, `app/v1`; Envoy's shared `etcd-xds`
 * listener and route configuration belong to none (they are listed only without a service filter).
 */
function serviceOfResource(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(0, slash);
}

function* filtered<T>(items: Iterable<T>, keep: (item: T) => boolean): Iterable<T> {
  for (const item of items) if (keep(item)) yield item;
}

export function configDumpView(
  snapshot: Snapshot | undefined,
  catalog: Catalog | undefined,
  registry: RegistryStatus,
  flavours: { readonly flavour: string; readonly built: readonly string[] },
  filter: ConfigDumpFilter = {},
): LazyObject {
  const { services, types } = filter;
  const servicesShown = (): Iterable<ServiceCatalog> =>
    services === undefined
      ? catalog!.services.values()
      : [...services].sort().flatMap((name) => catalog!.services.get(name) ?? []);
  return lazyFields({
    flavour: flavours.flavour,
    flavoursInUse: flavours.built,
    filter:
      services === undefined && types === undefined
        ? undefined
        : {
            service: services === undefined ? undefined : [...services].sort(),
            type:
              types === undefined ? undefined : PUSH_ORDER.filter((t) => types.has(t)).map((t) => t.short),
          },
    registry,
    catalog:
      catalog === undefined
        ? null
        : lazyFields({
            revision: catalog.revision,
            services: lazyMap(servicesShown(), serviceJson),
            rejected: lazyMap(
              filtered(
                catalog.rejected,
                ([key]) => services === undefined || key.split('/').some((part) => services.has(part)),
              ),
              ([key, { kind, problem }]) => ({ key, kind, code: problem.code, error: problem.message }),
            ),
          }),
    resources:
      snapshot === undefined
        ? null
        : new LazyObject(
            PUSH_ORDER.filter((type) => types === undefined || types.has(type)).map((type) => [
              type.short,
              lazyFields({
                typeUrl: type.typeUrl,
                versionInfo: snapshot.typeVersion(type),
                resources: lazyMap(
                  filtered(
                    snapshot.all(type),
                    (resource) => services === undefined || services.has(serviceOfResource(resource.name)),
                  ),
                  (resource) =>
                    lazyFields({
                      name: resource.name,
                      version: resource.version,
                      resource: messageJson(type.messageName, resource.bytes),
                    }),
                ),
              }),
            ]),
          ),
  });
}

function serviceJson(service: ServiceCatalog): object {
  return {
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
      status: instance.status,
      metadata: instance.metadata ?? null,
    })),
    shadowed: service.shadowed,
  };
}

/** What /debug/clients is asked to show (every client when absent). */
export interface ClientsFilter {
  /** Node ids, exactly. */
  readonly nodes?: ReadonlySet<string>;
}

export function clientsView(views: readonly StreamView[], filter: ClientsFilter = {}): LazyObject {
  const { nodes } = filter;
  return lazyFields({
    filter: nodes === undefined ? undefined : { node: [...nodes].sort() },
    clients: lazyMap(
      filtered(views, (view) => nodes === undefined || nodes.has(view.state.node?.id ?? '')),
      clientJson,
    ),
  });
}

function clientJson({ state: stream, profile, protocol, onlyType, writes }: StreamView): LazyObject {
  return lazyFields({
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
    callerLabels: profile === undefined ? null : Object.fromEntries(profile.labels),
    writes: {
      unflushed: writes.unflushed,
      unflushedSeconds: Math.round(writes.unflushedMs) / 1000,
      heldPushes: writes.heldPushes,
    },
    subscriptions: new LazyObject(
      [...stream.subscriptions.values()].map((subscription) => [
        subscription.type.short,
        subscriptionJson(subscription),
      ]),
    ),
  });
}

/**
 * A subscription. Its names (in the order subscribed) and versions, up to 100,000 each, are read
 * from the stream's own maps a few at a time while they are written: no copy, no sort, so one
 * client's view never holds the event loop long.
 */
function subscriptionJson(subscription: TypeSubscription): LazyObject {
  return lazyFields({
    wildcard: subscription.wildcard,
    names: new LazyArray(subscription.names.keys()),
    lastSent:
      subscription.lastNonce === undefined
        ? null
        : lazyFields({
            versionInfo: subscription.lastSentVersion,
            nonce: subscription.lastNonce,
            at: iso(subscription.lastSentAt),
            resources: new LazyObject(subscription.sent.entries()),
          }),
    lastAck:
      subscription.ackedVersion === undefined
        ? null
        : { versionInfo: subscription.ackedVersion, at: iso(subscription.ackedAt) },
    lastNack:
      subscription.lastNack === undefined
        ? null
        : { ...subscription.lastNack, at: iso(subscription.lastNack.at) },
  });
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}
