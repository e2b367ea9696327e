// The incremental (delta) xDS protocol for one stream, as a state machine without I/O. It keeps
// the version of every resource the client holds and sends only what differs from it.
import type { DeltaDiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import { xdsTypeByUrl, type XdsType } from '../proto/xds-types';
import type { EncodedResource } from '../cache/encoded-resource';
import type { ChangeSet, Snapshot } from '../cache/snapshot';
import { planPush } from './push-plan';
import { ProtocolStream } from './protocol-stream';
import type { SubscriptionDelta, TypeSubscription } from './type-subscription';

export interface OutgoingDeltaResponse {
  readonly type: XdsType;
  readonly systemVersionInfo: string;
  readonly nonce: string;
  readonly resources: readonly EncodedResource[];
  readonly removed: readonly string[];
}

export type DeltaOutcome = 'initial' | 'ack' | 'nack' | 'resubscribe' | 'unknown-type';

export interface DeltaRequestResult {
  readonly outcome: DeltaOutcome;
  readonly type: XdsType | undefined;
  readonly response: OutgoingDeltaResponse | undefined;
  readonly delta: SubscriptionDelta | undefined;
}

export class DeltaStreamState extends ProtocolStream {
  handleRequest(request: DeltaDiscoveryRequest__Output, snapshot: Snapshot): DeltaRequestResult {
    this.rememberNode(request.node);
    const type = xdsTypeByUrl(request.type_url);
    if (type === undefined) return { outcome: 'unknown-type', type, response: undefined, delta: undefined };

    const { subscription, created: first } = this.subscriptionFor(type);

    // Every delta response is acknowledged on its own; subscription changes in the same request
    // apply whatever the nonce.
    let outcome: DeltaOutcome = first ? 'initial' : 'resubscribe';
    const nonce = request.response_nonce;
    if (!first && nonce !== '') {
      if (request.error_detail !== null) {
        outcome = 'nack';
        subscription.recordNack(nonce, request.error_detail.code, request.error_detail.message, this.now());
      } else {
        outcome = 'ack';
        if (nonce === subscription.lastNonce)
          subscription.recordAck(subscription.lastSentVersion ?? '', this.now());
      }
    }

    const subscribe = request.resource_names_subscribe;
    const unsubscribe = request.resource_names_unsubscribe;
    const wasWildcard = subscription.wildcard;
    // The legacy wildcard: a first LDS/CDS request that names nothing.
    if (subscribe.includes('*') || (first && type.fullState && subscribe.length === 0))
      subscription.setWildcard(true);
    if (unsubscribe.includes('*')) subscription.setWildcard(false);
    const added: string[] = [];
    const removed: string[] = [];
    const requested = subscribe.filter((name) => name !== '*');
    // Subscribing again to a name already subscribed asks for it again (Envoy does so while it
    // warms a cluster it recreated); a new name the client declared it holds is not resent.
    const resubscribed = new Set(requested.filter((name) => subscription.names.has(name)));
    for (const name of unsubscribe) {
      if (name === '*') continue;
      const gone = subscription.remove(name);
      if (gone !== undefined) removed.push(gone);
    }
    for (const name of requested) {
      const fresh = subscription.add(name);
      if (fresh !== undefined) added.push(fresh);
    }
    subscription.shareNames();
    if (first) {
      // A client reconnecting tells us what it already has, so only differences are sent. Only
      // what it subscribes to is kept: versions of other names would be memory spent on nothing.
      for (const [name, version] of Object.entries(request.initial_resource_versions))
        if (subscription.wildcard || subscription.names.has(name)) subscription.holds(name, version);
    }
    const subscriptionChanged =
      wasWildcard !== subscription.wildcard || added.length > 0 || removed.length > 0 || requested.length > 0;
    const delta = subscriptionChanged ? { type, added, removed, wildcard: subscription.wildcard } : undefined;
    if (!first && (outcome === 'ack' || outcome === 'nack') && requested.length === 0 && !delta) {
      return { outcome, type, response: undefined, delta };
    }

    const candidates = new Set<string>(requested);
    const everything = subscription.wildcard && (first || !wasWildcard);
    const response = this.respond(subscription, snapshot, candidates, resubscribed, everything, candidates);
    // The first request of each type is always answered, so the client knows where it stands.
    if (response === undefined && first) {
      return { outcome, type, response: this.record(subscription, snapshot, [], []), delta };
    }
    return { outcome, type, response, delta };
  }

  /** Whether `request` only acknowledges the latest response and changes nothing (so it can wait). */
  isPlainAck(request: DeltaDiscoveryRequest__Output): boolean {
    return (
      this.acknowledgedSubscription(request) !== undefined &&
      request.resource_names_subscribe.length === 0 &&
      request.resource_names_unsubscribe.length === 0
    );
  }

  /** The responses this stream needs after the snapshot changed: changes first, removals last. */
  handleSnapshot(snapshot: Snapshot, changes: ChangeSet): OutgoingDeltaResponse[] {
    const updates: OutgoingDeltaResponse[] = [];
    const removals: OutgoingDeltaResponse[] = [];
    for (const push of planPush(this.subscriptions, changes)) {
      const subscription = this.subscriptions.get(push.type)!;
      const changed = this.respond(
        subscription,
        snapshot,
        new Set(push.updated),
        push.resent,
        false,
        new Set(),
      );
      if (changed) updates.push(changed);
      const gone = push.removed.filter((name) => subscription.sent.has(name));
      if (gone.length > 0) removals.push(this.record(subscription, snapshot, [], gone));
    }
    return [...updates, ...removals.reverse()];
  }

  /**
   * The responses a stream that missed pushes (its client was not reading, or was backing off)
   * needs for the `changes` it missed: what differs from what it holds, one response per type
   * carrying both the changed resources and the removed names.
   */
  handleHeld(snapshot: Snapshot, changes: ChangeSet): OutgoingDeltaResponse[] {
    const responses: OutgoingDeltaResponse[] = [];
    for (const push of planPush(this.subscriptions, changes)) {
      const subscription = this.subscriptions.get(push.type)!;
      const candidates = new Set([...push.updated, ...push.removed]);
      const response = this.respond(subscription, snapshot, candidates, push.resent, false, new Set());
      if (response) responses.push(response);
    }
    return responses;
  }

  /**
   * Sends the `candidates` (and, with `everything`, every resource of the type) whose version the
   * client does not have, or that are `forced`; candidates that do not exist go in
   * removed_resources if the client holds them or they are in `reportMissing` (just asked for:
   * that tells the client they do not exist). Undefined when there is nothing to say.
   */
  private respond(
    subscription: TypeSubscription,
    snapshot: Snapshot,
    candidates: ReadonlySet<string>,
    forced: ReadonlySet<string>,
    everything: boolean,
    reportMissing: ReadonlySet<string>,
  ): OutgoingDeltaResponse | undefined {
    const type = subscription.type;
    const resources: EncodedResource[] = [];
    const removed: string[] = [];
    const names = new Set(candidates);
    if (everything) {
      for (const resource of snapshot.all(type)) names.add(resource.name);
      // What the client holds but no longer exists.
      for (const name of subscription.sent.keys()) names.add(name);
    }
    for (const name of [...names].sort()) {
      const resource = snapshot.get(type, name);
      if (resource === undefined) {
        if (subscription.sent.has(name) || reportMissing.has(name)) removed.push(name);
      } else if (forced.has(name) || subscription.sent.get(name) !== resource.version) {
        resources.push(resource);
      }
    }
    if (resources.length === 0 && removed.length === 0) return undefined;
    return this.record(subscription, snapshot, resources, removed);
  }

  private record(
    subscription: TypeSubscription,
    snapshot: Snapshot,
    resources: readonly EncodedResource[],
    removed: readonly string[],
  ): OutgoingDeltaResponse {
    const response: OutgoingDeltaResponse = {
      type: subscription.type,
      systemVersionInfo: snapshot.typeVersion(subscription.type),
      nonce: this.nextNonce(),
      resources,
      removed,
    };
    subscription.recordSent(
      { nonce: response.nonce, version: response.systemVersionInfo, at: this.now() },
      resources,
      removed,
      false,
    );
    return response;
  }
}
