// Decides, for one stream and one snapshot change, which resources of which types it must be
// sent and which removed, in the order that never leaves a client referring to what it lacks.
import { CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE, type XdsType } from '../proto/xds-types';
import type { ChangeSet } from '../cache/snapshot';
import type { TypeSubscription } from './type-subscription';

export interface TypePush {
  readonly type: XdsType;
  /** Requested names to send (wildcard: canonical names). */
  readonly updated: readonly string[];
  /** Requested names that no longer exist. */
  readonly removed: readonly string[];
  /**
   * Names sent again although unchanged: Envoy warms an updated cluster (listener) until it gets
   * its endpoints (routes) again.
   */
  readonly resent: ReadonlySet<string>;
}

/** Types with something to send, in push order (CDS → EDS → LDS → RDS). */
export function planPush(
  subscriptions: ReadonlyMap<XdsType, TypeSubscription>,
  changes: ChangeSet,
): TypePush[] {
  const affected = (subscription: TypeSubscription, names: ReadonlySet<string> | undefined): string[] => {
    if (names === undefined || names.size === 0) return [];
    if (subscription.wildcard) return [...names];
    const canonical: string[] = [];
    if (names.size <= subscription.canonical.size) {
      for (const name of names) if (subscription.canonical.has(name)) canonical.push(name);
    } else {
      for (const name of subscription.canonical.keys()) if (names.has(name)) canonical.push(name);
    }
    return subscription.requestedFor(canonical);
  };
  const updatedOf = new Map<XdsType, string[]>();
  const plan: TypePush[] = [];
  for (const type of PUSH_ORDER) {
    const subscription = subscriptions.get(type);
    if (subscription?.lastNonce === undefined) continue;
    const typeChanges = changes.get(type);
    const updated = affected(subscription, typeChanges?.updated);
    const resent = new Set<string>();
    // Cluster X updated → endpoints X again; a listener updated → every route configuration again.
    const dependsOn = type === ENDPOINT ? CLUSTER : type === ROUTE ? LISTENER : undefined;
    const parentsUpdated = dependsOn === undefined ? [] : (updatedOf.get(dependsOn) ?? []);
    if (parentsUpdated.length > 0) {
      const candidates = type === ENDPOINT ? parentsUpdated : [...subscription.names.keys()];
      for (const name of candidates) {
        if ((subscription.wildcard || subscription.names.has(name)) && !updated.includes(name))
          resent.add(name);
      }
    }
    updatedOf.set(type, updated);
    const removed = affected(subscription, typeChanges?.removed);
    if (updated.length > 0 || removed.length > 0 || resent.size > 0) {
      plan.push({ type, updated: [...updated, ...resent], removed, resent });
    }
  }
  return plan;
}
