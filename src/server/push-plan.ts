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

const NONE: readonly string[] = Object.freeze([]);
const NOTHING_RESENT: ReadonlySet<string> = new Set();

/** Types with something to send, in push order (CDS → EDS → LDS → RDS). */
export function planPush(
  subscriptions: ReadonlyMap<XdsType, TypeSubscription>,
  changes: ChangeSet,
): TypePush[] {
  // This runs once per stream per change (10,000 times for one endpoint change at 10k streams):
  // types the change does not touch cost one lookup and allocate nothing.
  const plan: TypePush[] = [];
  let clustersUpdated = NONE;
  let listenersUpdated = NONE;
  for (const type of PUSH_ORDER) {
    const subscription = subscriptions.get(type);
    if (subscription?.lastNonce === undefined) continue;
    const typeChanges = changes.get(type);
    // Cluster X updated → endpoints X again; a listener updated → every route configuration again.
    const parentsUpdated = type === ENDPOINT ? clustersUpdated : type === ROUTE ? listenersUpdated : NONE;
    if (typeChanges === undefined && parentsUpdated.length === 0) continue;
    const updated = affected(subscription, typeChanges?.updated);
    if (type === CLUSTER) clustersUpdated = updated;
    else if (type === LISTENER) listenersUpdated = updated;
    let resent = NOTHING_RESENT;
    if (parentsUpdated.length > 0) {
      const fresh = new Set<string>();
      const candidates = type === ENDPOINT ? parentsUpdated : subscription.names.keys();
      for (const name of candidates) {
        if ((subscription.wildcard || subscription.names.has(name)) && !updated.includes(name))
          fresh.add(name);
      }
      resent = fresh;
    }
    const removed = affected(subscription, typeChanges?.removed);
    if (updated.length > 0 || removed.length > 0 || resent.size > 0) {
      plan.push({ type, updated: resent.size === 0 ? updated : [...updated, ...resent], removed, resent });
    }
  }
  return plan;
}

/** The requested names of `subscription` that stand for any of the canonical `names`. */
function affected(subscription: TypeSubscription, names: ReadonlySet<string> | undefined): readonly string[] {
  if (names === undefined || names.size === 0) return NONE;
  if (subscription.wildcard) return [...names];
  const requested: string[] = [];
  if (names.size <= subscription.canonicalCount) {
    for (const name of names) subscription.addRequestedFor(name, requested);
  } else {
    for (const name of subscription.canonicalNames())
      if (names.has(name)) subscription.addRequestedFor(name, requested);
  }
  return requested;
}
