// The state-of-the-world xDS protocol for one stream, as a state machine without I/O: it takes
// DiscoveryRequests and snapshot changes, and returns the responses to send.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import { PUSH_ORDER, xdsTypeByUrl, type XdsType } from '../proto/xds-types';
import type { EncodedResource } from '../cache/encoded-resource';
import type { ChangeSet, Snapshot } from '../cache/snapshot';
import { canonicalName } from '../translate/resource-names';
import type { OutgoingResponse } from './ads-service';

export interface NackRecord {
  /** The version_info of the response the client rejected. */
  readonly rejectedVersion: string;
  readonly nonce: string;
  readonly code: number;
  readonly message: string;
  readonly at: number;
}

/** One type's subscription on one stream. */
export class TypeSubscription {
  wildcard = false;
  /** Requested name → canonical name. */
  readonly names = new Map<string, string>();
  /** Canonical name → the requested names that stand for it. */
  readonly canonical = new Map<string, Set<string>>();
  /** Whether the client ever listed names explicitly (then an empty list means "none", not wildcard). */
  explicitEver = false;
  lastNonce: string | undefined;
  lastSentVersion: string | undefined;
  lastSentAt: number | undefined;
  ackedVersion: string | undefined;
  ackedAt: number | undefined;
  lastNack: NackRecord | undefined;
  /** Name → version of what this stream was last sent. */
  readonly sent = new Map<string, string>();

  constructor(readonly type: XdsType) {}

  subscribes(canonicalName: string): boolean {
    return this.wildcard || this.canonical.has(canonicalName);
  }
}

export type RequestOutcome = 'initial' | 'ack' | 'nack' | 'resubscribe' | 'stale' | 'unknown-type';

/** How a request changed what the stream is subscribed to, in canonical names. */
export interface SubscriptionDelta {
  readonly type: XdsType;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly wildcard: boolean;
}

export interface RequestResult {
  readonly outcome: RequestOutcome;
  readonly type: XdsType | undefined;
  readonly response: OutgoingResponse | undefined;
  readonly delta: SubscriptionDelta | undefined;
}

export class StreamState {
  node: Node__Output | null = null;
  readonly subscriptions = new Map<XdsType, TypeSubscription>();
  private nonceCounter = 0;

  constructor(
    readonly id: number,
    readonly peer: string,
    readonly connectedAt: number,
    private readonly now: () => number = Date.now,
  ) {}

  handleRequest(request: DiscoveryRequest__Output, snapshot: Snapshot): RequestResult {
    if (request.node !== null && this.node === null) this.node = request.node;
    const type = xdsTypeByUrl(request.type_url);
    if (type === undefined) return { outcome: 'unknown-type', type, response: undefined, delta: undefined };

    let subscription = this.subscriptions.get(type);
    const first = subscription?.lastNonce === undefined;
    const nonce = request.response_nonce;
    if (!first && nonce !== '' && nonce !== subscription!.lastNonce) {
      // A reply to a response that has since been superseded: the client will answer the newer one.
      return { outcome: 'stale', type, response: undefined, delta: undefined };
    }
    if (subscription === undefined) {
      subscription = new TypeSubscription(type);
      this.subscriptions.set(type, subscription);
    }

    let outcome: RequestOutcome = 'initial';
    if (!first && nonce !== '') {
      if (request.error_detail !== null) {
        outcome = 'nack';
        subscription.lastNack = {
          rejectedVersion: subscription.lastSentVersion ?? '',
          nonce,
          code: request.error_detail.code,
          message: request.error_detail.message,
          at: this.now(),
        };
      } else {
        outcome = 'ack';
        subscription.ackedVersion = request.version_info;
        subscription.ackedAt = this.now();
      }
    }

    const delta = this.resubscribe(subscription, request.resource_names);
    const namesChanged = delta.changed;
    if (!first && nonce !== '' && !namesChanged) {
      // An ACK or NACK of the current subscription: nothing to send. After a NACK the client keeps
      // its last good version; resending the rejected one would only loop.
      return { outcome, type, response: undefined, delta: undefined };
    }
    if (!first && nonce !== '') outcome = 'resubscribe';

    // Full-state types always carry every subscribed resource; for the others a resubscription
    // needs only the newly requested names, even if they did not change.
    const names =
      first || nonce === '' || type.fullState
        ? undefined
        : delta.addedRequested.filter((n) => subscription.names.has(n));
    const response = this.respond(subscription, snapshot, names);
    return {
      outcome,
      type,
      response,
      delta: { type, added: delta.added, removed: delta.removed, wildcard: subscription.wildcard },
    };
  }

  /** The responses this stream needs after the snapshot changed, in make-before-break order. */
  handleSnapshot(snapshot: Snapshot, changes: ChangeSet): OutgoingResponse[] {
    const updates: OutgoingResponse[] = [];
    const removals: OutgoingResponse[] = [];
    for (const type of PUSH_ORDER) {
      const subscription = this.subscriptions.get(type);
      const typeChanges = changes.get(type);
      if (subscription?.lastNonce === undefined || typeChanges === undefined) continue;
      const updated = affected(subscription, typeChanges.updated);
      const removed = affected(subscription, typeChanges.removed);
      if (type.fullState) {
        if (updated.length > 0) updates.push(this.respond(subscription, snapshot, undefined));
        else if (removed.length > 0) removals.push(this.respond(subscription, snapshot, undefined));
      } else if (updated.length > 0) {
        // Removed RDS/EDS resources need no message: the LDS/CDS response that stops referring to
        // them is the removal.
        const names = subscription.wildcard
          ? updated
          : updated.flatMap((canonical) => [...(subscription.canonical.get(canonical) ?? [])]);
        updates.push(this.respond(subscription, snapshot, names));
      }
    }
    // Additions and changes go out cluster → endpoints → listener → routes; responses that only
    // remove resources follow, in reverse order, once nothing refers to what they remove.
    return [...updates, ...removals.reverse()];
  }

  /** Every canonical name this stream subscribes to, by type (for indexing). */
  *subscribedNames(): Iterable<[XdsType, string]> {
    for (const [type, subscription] of this.subscriptions) {
      for (const canonical of subscription.canonical.keys()) yield [type, canonical];
    }
  }

  private resubscribe(
    subscription: TypeSubscription,
    requested: readonly string[],
  ): { added: string[]; removed: string[]; addedRequested: string[]; changed: boolean } {
    const explicit = requested.filter((name) => name !== '*');
    if (explicit.length > 0) subscription.explicitEver = true;
    const wildcard =
      requested.includes('*') ||
      (subscription.type.fullState && requested.length === 0 && !subscription.explicitEver);
    let changed = wildcard !== subscription.wildcard;
    subscription.wildcard = wildcard;

    const wanted = new Set(explicit);
    const added: string[] = [];
    const removed: string[] = [];
    const addedRequested: string[] = [];
    for (const [name, canonical] of subscription.names) {
      if (wanted.has(name)) continue;
      changed = true;
      subscription.names.delete(name);
      const aliases = subscription.canonical.get(canonical)!;
      aliases.delete(name);
      if (aliases.size === 0) {
        subscription.canonical.delete(canonical);
        removed.push(canonical);
      }
      subscription.sent.delete(name);
    }
    for (const name of wanted) {
      if (subscription.names.has(name)) continue;
      changed = true;
      const canonical = canonicalName(subscription.type, name);
      subscription.names.set(name, canonical);
      addedRequested.push(name);
      let aliases = subscription.canonical.get(canonical);
      if (aliases === undefined) {
        aliases = new Set();
        subscription.canonical.set(canonical, aliases);
        added.push(canonical);
      }
      aliases.add(name);
    }
    return { added, removed, addedRequested, changed };
  }

  /** Builds a response of `names` (default: everything subscribed) and records it as sent. */
  private respond(
    subscription: TypeSubscription,
    snapshot: Snapshot,
    names: readonly string[] | undefined,
  ): OutgoingResponse {
    const type = subscription.type;
    const resources: EncodedResource[] = [];
    if (names === undefined && subscription.wildcard) {
      resources.push(...snapshot.all(type));
    } else {
      const wanted = names ?? [...subscription.names.keys()];
      for (const name of [...new Set(wanted)].sort()) {
        const resource = snapshot.get(type, name);
        if (resource !== undefined) resources.push(resource);
      }
    }
    if (names === undefined) subscription.sent.clear();
    for (const resource of resources) subscription.sent.set(resource.name, resource.version);
    const response: OutgoingResponse = {
      type,
      versionInfo: snapshot.typeVersion(type),
      nonce: String(++this.nonceCounter),
      resources,
    };
    subscription.lastNonce = response.nonce;
    subscription.lastSentVersion = response.versionInfo;
    subscription.lastSentAt = this.now();
    return response;
  }
}

function affected(subscription: TypeSubscription, names: ReadonlySet<string>): string[] {
  if (subscription.wildcard) return [...names];
  const result: string[] = [];
  if (names.size <= subscription.canonical.size) {
    for (const name of names) if (subscription.canonical.has(name)) result.push(name);
  } else {
    for (const name of subscription.canonical.keys()) if (names.has(name)) result.push(name);
  }
  return result;
}
