// The state-of-the-world xDS protocol for one stream, as a state machine without I/O: it takes
// DiscoveryRequests and snapshot changes, and returns the responses to send.
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import { PUSH_ORDER, xdsTypeByUrl, type XdsType } from '../proto/xds-types';
import type { EncodedResource } from '../cache/encoded-resource';
import type { ChangeSet, Snapshot } from '../cache/snapshot';
import type { OutgoingResponse } from './ads-service';
import { planPush } from './push-plan';
import { ProtocolStream } from './protocol-stream';
import type { HeldContent, SubscriptionDelta, TypeSubscription } from './type-subscription';

export { TypeSubscription, type NackRecord, type SubscriptionDelta } from './type-subscription';

export type RequestOutcome = 'initial' | 'ack' | 'nack' | 'resubscribe' | 'stale' | 'unknown-type';

export interface RequestResult {
  readonly outcome: RequestOutcome;
  readonly type: XdsType | undefined;
  readonly response: OutgoingResponse | undefined;
  readonly delta: SubscriptionDelta | undefined;
}

export class StreamState extends ProtocolStream {
  handleRequest(request: DiscoveryRequest__Output, snapshot: Snapshot): RequestResult {
    this.rememberNode(request.node);
    const type = xdsTypeByUrl(request.type_url);
    if (type === undefined) return { outcome: 'unknown-type', type, response: undefined, delta: undefined };

    const existing = this.subscriptions.get(type);
    const first = existing?.lastNonce === undefined;
    const nonce = request.response_nonce;
    if (!first && nonce !== '' && nonce !== existing.lastNonce) {
      // A reply to a response that has since been superseded: the client will answer the newer one.
      return { outcome: 'stale', type, response: undefined, delta: undefined };
    }
    const { subscription } = this.subscriptionFor(type);

    let outcome: RequestOutcome = 'initial';
    if (!first && nonce !== '') {
      if (request.error_detail !== null) {
        outcome = 'nack';
        subscription.recordNack(nonce, request.error_detail.code, request.error_detail.message, this.now());
      } else {
        outcome = 'ack';
        subscription.recordAck(request.version_info, this.now());
      }
    }

    const change = resubscribe(subscription, request.resource_names);
    if (!first && nonce !== '' && !change.changed) {
      // An ACK or NACK of the current subscription: nothing to send. After a NACK the client keeps
      // its last good version; resending the rejected one would only loop.
      return { outcome, type, response: undefined, delta: undefined };
    }
    if (!first && nonce !== '') outcome = 'resubscribe';

    // Full-state types always carry every subscribed resource; for the others a resubscription
    // needs only the newly requested names, even if they did not change.
    const names = first || nonce === '' || type.fullState ? undefined : change.addedRequested;
    return {
      outcome,
      type,
      response: this.respond(subscription, snapshot, names),
      delta: { type, added: change.added, removed: change.removed, wildcard: subscription.wildcard },
    };
  }

  /** Whether `request` only acknowledges the latest response and changes nothing (so it can wait). */
  isPlainAck(request: DiscoveryRequest__Output): boolean {
    const subscription = this.acknowledgedSubscription(request);
    return subscription !== undefined && sameNames(subscription, request.resource_names);
  }

  /**
   * The responses this stream needs after the snapshot changed from `previous`, make before break:
   * additions and changes go out cluster → endpoints → listener → routes; a full-state response
   * that would also drop resources first keeps them one more time, and the responses that drop
   * them follow, in reverse order, once nothing refers to what they remove.
   */
  handleSnapshot(snapshot: Snapshot, changes: ChangeSet, previous?: Snapshot): readonly OutgoingResponse[] {
    // A push reaches thousands of streams, most in one of a few states (the same names asked, the
    // same versions held): the plan is made once per state and replayed for the others.
    const key = this.stateKey();
    const planned = pushPlans.get(snapshot, changes, previous, key);
    if (planned !== undefined) {
      for (const step of planned.steps)
        this.record(this.subscriptions.get(step.response.type)!, step.response, step.replacing, step.content);
      return planned.responses;
    }
    const steps: PlannedStep[] = [];
    this.steps = steps;
    try {
      const responses = this.plan(snapshot, changes, previous);
      if (steps.every((step) => step.content !== undefined)) pushPlans.set(key, { responses, steps });
      return responses;
    } finally {
      this.steps = undefined;
    }
  }

  /** While a push is planned, what it records per response (to replay for streams in the same state). */
  private steps: PlannedStep[] | undefined;

  /**
   * The state a push plan depends on, as a string equal between streams in the same state: per
   * type, the names asked, what is held, and the last nonce if it is a push's (shared) one.
   */
  private stateKey(): string {
    let key = '';
    for (const type of PUSH_ORDER) {
      const subscription = this.subscriptions.get(type);
      const nonce = subscription?.lastNonce;
      if (nonce === undefined) key += '-|';
      else
        key += `${subscription!.namesId}.${subscription!.heldState.id}.${nonce.startsWith('p') ? nonce : ''}|`;
    }
    return key;
  }

  /**
   * The responses a stream that missed pushes (its client was not reading, or was backing off)
   * needs for the `changes` it missed: the latest state, at most one response per type.
   */
  handleHeld(snapshot: Snapshot, changes: ChangeSet): OutgoingResponse[] {
    return this.plan(snapshot, changes, 'latest');
  }

  private plan(
    snapshot: Snapshot,
    changes: ChangeSet,
    previous: Snapshot | 'latest' | undefined,
  ): OutgoingResponse[] {
    const updates: OutgoingResponse[] = [];
    const removals: OutgoingResponse[] = [];
    for (const push of planPush(this.subscriptions, changes)) {
      const subscription = this.subscriptions.get(push.type)!;
      if (!push.type.fullState) {
        // Removed RDS/EDS resources need no message: the LDS/CDS response that stops referring to
        // them is the removal. What the stream already has (a change that was reverted, or one it
        // rejected) is not sent again, unless it is re-sent on purpose.
        const names = push.updated.filter(
          (name) =>
            push.resent.has(name) || snapshot.get(push.type, name)?.version !== subscription.sent.get(name),
        );
        if (names.length > 0)
          updates.push(this.respond(subscription, snapshot, names, [], pushNonce(snapshot, push.type, 'u')));
        continue;
      }
      if (this.hasExactly(subscription, snapshot)) continue;
      if (push.updated.length === 0 || previous === 'latest') {
        const response = this.respond(
          subscription,
          snapshot,
          undefined,
          [],
          pushNonce(snapshot, push.type, 'r'),
        );
        if (previous === 'latest') updates.push(response);
        else removals.push(response);
        continue;
      }
      const retained = push.removed.flatMap((name) => previous?.get(push.type, name) ?? []);
      updates.push(
        this.respond(subscription, snapshot, undefined, retained, pushNonce(snapshot, push.type, 'u')),
      );
      if (push.removed.length > 0)
        removals.push(
          this.respond(subscription, snapshot, undefined, [], pushNonce(snapshot, push.type, 'r')),
        );
    }
    return [...updates, ...removals.reverse()];
  }

  /** Whether the stream was last sent exactly what it would be sent now (nothing to say). */
  private hasExactly(subscription: TypeSubscription, snapshot: Snapshot): boolean {
    const type = subscription.type;
    const current = subscription.wildcard
      ? [...snapshot.all(type)]
      : [...subscription.names.keys()].flatMap((name) => snapshot.get(type, name) ?? []);
    return (
      current.length === subscription.sent.size &&
      current.every((resource) => subscription.sent.get(resource.name) === resource.version)
    );
  }

  /**
   * Builds a response of `names` (default: everything subscribed) plus `retained` resources kept
   * for make-before-break, and records it as sent.
   */
  private respond(
    subscription: TypeSubscription,
    snapshot: Snapshot,
    names: readonly string[] | undefined,
    retained: readonly EncodedResource[] = [],
    sharedNonce?: string,
  ): OutgoingResponse {
    const type = subscription.type;
    const wanted =
      names === undefined && subscription.wildcard
        ? undefined
        : sortedUnique(names ?? [...subscription.names.keys()]);
    // A push's nonce is the same on every stream it goes to, so streams sent the same resources
    // share one response, and one encoding; it differs from the stream's last one.
    const shared = sharedNonce !== undefined && sharedNonce !== subscription.lastNonce;
    const response = shared
      ? pushResponses.get(sharedNonce, wanted, retained, () =>
          buildResponse(type, snapshot, wanted, retained, sharedNonce),
        )
      : buildResponse(type, snapshot, wanted, retained, this.nextNonce());
    const replacing = names === undefined;
    // What the client holds after it, as something other streams can share: a shared response
    // (replacing, or adding to what it held), or one snapshot's resources of these names.
    const content: HeldContent | undefined = shared
      ? replacing
        ? { replacedBy: response }
        : { extendedBy: response }
      : replacing && retained.length === 0
        ? { key: `${type.short}|${snapshotSerial(snapshot.ownerOf(type))}|${subscription.namesId}` }
        : undefined;
    this.record(subscription, response, replacing, content);
    this.steps?.push({ response, replacing, content: shared ? content : undefined });
    return response;
  }

  private record(
    subscription: TypeSubscription,
    response: OutgoingResponse,
    replacing: boolean,
    content: HeldContent | undefined,
  ): void {
    subscription.recordSent(
      { nonce: response.nonce, version: response.versionInfo, at: this.now() },
      response.resources,
      [],
      replacing,
      content,
    );
  }
}

/** One response of a push plan, and how it changes what the stream holds. */
interface PlannedStep {
  readonly response: OutgoingResponse;
  readonly replacing: boolean;
  /** Undefined: the response was built for this stream alone, so the plan cannot be replayed. */
  readonly content: HeldContent | undefined;
}

interface PushPlan {
  readonly responses: readonly OutgoingResponse[];
  /** In the order they were recorded (per type: update, then removal). */
  readonly steps: readonly PlannedStep[];
}

/**
 * The plans of the push going out (one snapshot change), by stream state: with 10,000 streams
 * watching one service, one plan instead of 10,000. Emptied when the next push starts, and bounded.
 */
class PushPlans {
  private readonly byState = new Map<string, PushPlan>();
  private snapshot: Snapshot | undefined;
  private changes: ChangeSet | undefined;
  private previous: Snapshot | undefined;

  constructor(private readonly limit = 4096) {}

  get(
    snapshot: Snapshot,
    changes: ChangeSet,
    previous: Snapshot | undefined,
    state: string,
  ): PushPlan | undefined {
    if (snapshot !== this.snapshot || changes !== this.changes || previous !== this.previous) {
      this.byState.clear();
      this.snapshot = snapshot;
      this.changes = changes;
      this.previous = previous;
      return undefined;
    }
    return this.byState.get(state);
  }

  set(state: string, plan: PushPlan): void {
    if (this.byState.size >= this.limit) this.byState.clear();
    this.byState.set(state, plan);
  }
}

const pushPlans = new PushPlans();

/** `names` sorted, without duplicates (most pushes name one resource: no copy then). */
function sortedUnique(names: readonly string[]): readonly string[] {
  return names.length <= 1 ? names : [...new Set(names)].sort();
}

/** A response of the resources named `wanted` (undefined: every one of the type) plus `retained`. */
function buildResponse(
  type: XdsType,
  snapshot: Snapshot,
  wanted: readonly string[] | undefined,
  retained: readonly EncodedResource[],
  nonce: string,
): OutgoingResponse {
  const resources: EncodedResource[] = [];
  if (wanted === undefined) {
    resources.push(...snapshot.all(type));
  } else {
    for (const name of wanted) {
      const resource = snapshot.get(type, name);
      if (resource !== undefined) resources.push(resource);
    }
  }
  resources.push(...retained);
  const versionInfo =
    retained.length === 0 ? snapshot.typeVersion(type) : `${snapshot.typeVersion(type)}+retained`;
  return { type, versionInfo, nonce, resources };
}

/**
 * The responses of the current push (nonce `p<serial>.…`), by content: with 10,000 streams
 * watching one service, one response object (and one encoding, see encodeDiscoveryResponse)
 * instead of 10,000. Emptied when the next push starts, and bounded.
 */
class PushResponses {
  private readonly byKey = new Map<string, OutgoingResponse>();
  private serial = '';

  constructor(private readonly limit = 4096) {}

  get(
    nonce: string,
    wanted: readonly string[] | undefined,
    retained: readonly EncodedResource[],
    build: () => OutgoingResponse,
  ): OutgoingResponse {
    const serial = nonce.slice(0, nonce.indexOf('.'));
    if (serial !== this.serial || this.byKey.size >= this.limit) {
      this.byKey.clear();
      this.serial = serial;
    }
    // Requested names may hold any character: each is prefixed with its length.
    let key = wanted === undefined ? `${nonce}*` : nonce;
    if (wanted !== undefined) for (const name of wanted) key += ` ${name.length}:${name}`;
    for (const { name, version } of retained) key += ` +${name.length}:${name}${version.length}:${version}`;
    let response = this.byKey.get(key);
    if (response === undefined) {
      response = build();
      this.byKey.set(key, response);
    }
    return response;
  }
}

const pushResponses = new PushResponses();

const snapshotSerials = new WeakMap<Snapshot, number>();
let lastSnapshotSerial = 0;

/**
 * The nonce of a push of `type` caused by `snapshot`: `p<snapshot serial>.<type>.<u|r>` (update,
 * then removal), never a plain number like the nonces of responses to requests. A stream gets at
 * most one update and one removal of a type per snapshot, so its nonces stay unique.
 */
export function pushNonce(snapshot: Snapshot, type: XdsType, kind: 'u' | 'r'): string {
  // Views that serve their flavour's resources of this type share its nonces, and so the
  // responses built for them (a view differs only in the types it overrides).
  return `p${snapshotSerial(snapshot.ownerOf(type))}.${type.short}.${kind}`;
}

/** A number for `snapshot`, never reused for another. */
function snapshotSerial(snapshot: Snapshot): number {
  let serial = snapshotSerials.get(snapshot);
  if (serial === undefined) {
    serial = ++lastSnapshotSerial;
    snapshotSerials.set(snapshot, serial);
  }
  return serial;
}

const UNCHANGED = Object.freeze({
  added: [] as string[],
  removed: [] as string[],
  addedRequested: [] as string[],
  changed: false,
});

/** Whether `requested` names exactly the explicit subscription in force (the common ACK), cheaply. */
function sameNames(subscription: TypeSubscription, requested: readonly string[]): boolean {
  if (subscription.wildcard || requested.length === 0 || requested.length !== subscription.names.size)
    return false;
  for (const name of requested) if (!subscription.names.has(name)) return false;
  // Equal sizes and every name known: a duplicate in `requested` would leave one name out.
  if (requested.length > 8) return new Set(requested).size === requested.length;
  for (let i = 1; i < requested.length; i++)
    for (let j = 0; j < i; j++) if (requested[i] === requested[j]) return false;
  return true;
}

/** Applies a state-of-the-world resource_names list to a subscription. */
function resubscribe(
  subscription: TypeSubscription,
  requested: readonly string[],
): { added: string[]; removed: string[]; addedRequested: string[]; changed: boolean } {
  if (sameNames(subscription, requested)) return UNCHANGED;
  const explicit = requested.filter((name) => name !== '*');
  if (explicit.length > 0) subscription.markListed();
  // A first empty LDS/CDS request is the legacy wildcard; "*" is the explicit one.
  const wildcard =
    requested.includes('*') ||
    (subscription.type.fullState && requested.length === 0 && !subscription.explicitEver);
  let changed = wildcard !== subscription.wildcard;
  subscription.setWildcard(wildcard);

  const wanted = new Set(explicit);
  const added: string[] = [];
  const removed: string[] = [];
  const addedRequested: string[] = [];
  for (const name of [...subscription.names.keys()]) {
    if (wanted.has(name)) continue;
    changed = true;
    const gone = subscription.remove(name);
    if (gone !== undefined) removed.push(gone);
  }
  for (const name of wanted) {
    if (subscription.names.has(name)) continue;
    changed = true;
    addedRequested.push(name);
    const fresh = subscription.add(name);
    if (fresh !== undefined) added.push(fresh);
  }
  subscription.shareNames();
  return { added, removed, addedRequested, changed };
}
