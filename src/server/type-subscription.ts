// What one stream subscribes to for one resource type, and what it was sent and acknowledged.
import type { XdsType } from '../proto/xds-types';
import { canonicalName } from '../translate/resource-names';

/**
 * What a client holds of one type, as a value: two subscriptions with the same token hold the same
 * names at the same versions. Pushes to thousands of streams in the same state are then planned
 * once (see StreamState.handleSnapshot). A token follows from the one before and the shared
 * response sent; anything else (a response built for one stream, a delta client's own versions,
 * an unsubscribe) starts a token of its own, which only groups less, never wrongly.
 */
export class HeldToken {
  private static lastId = 0;
  readonly id = ++HeldToken.lastId;
  /**
   * Name → version held, once a subscription holding this token has worked it out: the others
   * reaching the token take this map instead of building their own (copying it before a change).
   * Weak: the subscriptions holding the map keep it, not the token (tokens outlive their streams
   * in `tokenOfKey`).
   */
  private heldMap: WeakRef<ReadonlyMap<string, string>> | undefined;
  /**
   * Shared response added to what this token stands for → the token after it. Made on first use:
   * most tokens (one stream's own, a delta stream's) are never extended. Weak: once a push's
   * response is gone no stream reaches its token this way any more, and a token kept in
   * `tokenOfKey` must not keep every token after it alive.
   */
  private extended: WeakMap<object, HeldToken> | undefined;

  get held(): ReadonlyMap<string, string> | undefined {
    return this.heldMap?.deref();
  }

  set held(map: ReadonlyMap<string, string>) {
    this.heldMap = new WeakRef(map);
  }

  /** The token after the resources of `response` (one object, shared by streams) were added. */
  extendedBy(response: object): HeldToken {
    this.extended ??= new WeakMap();
    let next = this.extended.get(response);
    if (next === undefined) {
      next = new HeldToken();
      this.extended.set(response, next);
    }
    return next;
  }
}

/** How a sent response changed what the client holds, for its HeldToken. */
export type HeldContent =
  /** It holds exactly the resources of this response, shared by every stream it went to. */
  | { readonly replacedBy: object }
  /** It holds what it held plus the resources of this shared response. */
  | { readonly extendedBy: object }
  /** It holds exactly what this key names (e.g. one snapshot's resources of one type and set of names). */
  | { readonly key: string };

const EMPTY = new HeldToken();
/** What a subscription holds before its first response (shared; never changed). */
const NOTHING_HELD: ReadonlyMap<string, string> = new Map();
const tokenOfReplacement = new WeakMap<object, HeldToken>();
/** Content key → token; cleared when large (then equal content only groups less). */
const tokenOfKey = new Map<string, HeldToken>();
/** Sorted requested names (and wildcard) → a number; cleared when large, numbers never reused. */
const namesIds = new Map<string, number>();
let lastNamesId = 0;
/** Type and names id → the requested-names map the subscriptions asking those names share. */
const sharedNames = new Map<string, ReadonlyMap<string, string>>();
const NO_NAMES: ReadonlyMap<string, string> = new Map();
const INTERNED_MAX = 50_000;
/** Requested names, one copy each (see TypeSubscription.add). */
const internedNames = new Map<string, string>();

/** `map`'s value for `key`, made and kept if absent; the map is emptied when large. */
function interned<V>(map: Map<string, V>, key: string, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    if (map.size >= INTERNED_MAX) map.clear();
    map.set(key, (value = make()));
  }
  return value;
}

export interface NackRecord {
  /** The version_info (SotW) or nonce-tagged versions (delta) the client rejected. */
  readonly rejectedVersion: string;
  readonly nonce: string;
  readonly code: number;
  readonly message: string;
  readonly at: number;
}

/**
 * One stream's subscription to one type: the names it asked for, what it was sent, and what it
 * acknowledged or rejected. The protocol state machines (stream-state.ts, delta-stream-state.ts)
 * change it only through these methods; everyone else reads it.
 */
export class TypeSubscription {
  private isWildcard = false;
  private listedEver = false;
  /**
   * Requested name → canonical name. Shared with the subscriptions asking the same names (streams
   * of one service's clients ask alike) while `requestedShared`; copied before a change.
   */
  private requested = NO_NAMES;
  private requestedShared = true;
  /**
   * Canonical name → the requested names that stand for it; undefined while every requested name
   * is its own canonical name (nearly every client), when `requested`'s keys are the canonical
   * names. A stream holds one of these per type, so the common case keeps no map and no set per
   * name (about 1.9 KB of a stream's heap).
   */
  private byCanonical: Map<string, Set<string>> | undefined;
  /**
   * Name → version the client holds: what it was sent (and, for delta, what it said it had on
   * reconnect). A NACKed version stays here, so it is not sent again until it changes.
   */
  private held = NOTHING_HELD;
  /** `held` is its HeldToken's map (or another's): copied before a change. */
  private heldShared = true;
  // The latest response sent and the latest ACK, as fields rather than records (two objects per
  // type per stream otherwise).
  private lastNonceSent: string | undefined;
  private lastVersionSent: string | undefined;
  private lastSentTime: number | undefined;
  private lastSentSeq = 0;
  private ackedVersionValue: string | undefined;
  private ackedTime: number | undefined;
  /** The sequence number of the response the latest ACK answered. */
  private ackedSentSeq = 0;
  private nack: NackRecord | undefined;
  /** When the NACK arrived, in the order of sends and answers. */
  private nackSeq = 0;
  /** Orders sends and answers (timestamps cannot: two may share a millisecond, clocks step). */
  private seq = 0;
  private heldToken = EMPTY;
  private namesKey: number | undefined;

  constructor(readonly type: XdsType) {}

  get wildcard(): boolean {
    return this.isWildcard;
  }

  /** Requested name → canonical name. */
  get names(): ReadonlyMap<string, string> {
    return this.requested;
  }

  /** The canonical names subscribed (by name, not wildcard). */
  canonicalNames(): Iterable<string> {
    return (this.byCanonical ?? this.requested).keys();
  }

  /** How many canonical names are subscribed (by name, not wildcard). */
  get canonicalCount(): number {
    return (this.byCanonical ?? this.requested).size;
  }

  /** Whether the client ever listed names explicitly (then an empty list means "none", not wildcard). */
  get explicitEver(): boolean {
    return this.listedEver;
  }

  /** Name → the version the client holds. */
  get sent(): ReadonlyMap<string, string> {
    return this.held;
  }

  /** What the client holds, as a token equal between subscriptions holding the same. */
  get heldState(): HeldToken {
    return this.heldToken;
  }

  /** The requested names and wildcard flag, as a number equal between subscriptions asking the same. */
  get namesId(): number {
    if (this.namesKey === undefined) {
      const names = [...this.requested.keys()].sort();
      let key = this.isWildcard ? '*' : '';
      for (const name of names) key += `${name.length}:${name}`;
      this.namesKey = interned(namesIds, key, () => ++lastNamesId);
    }
    return this.namesKey;
  }

  /**
   * Takes the requested-names map of the subscriptions of this type asking the same names, or
   * offers this one to them: after a request changed the names (an idle stream's requested names
   * then cost it a pointer, not a map).
   */
  shareNames(): void {
    if (this.requestedShared) return;
    const own = this.requested;
    this.requested = interned(sharedNames, `${this.type.typeUrl}\n${this.namesId}`, () => own);
    this.requestedShared = true;
  }

  private ownNames(): Map<string, string> {
    if (this.requestedShared) {
      this.requested = new Map(this.requested);
      this.requestedShared = false;
    }
    this.namesKey = undefined;
    return this.requested as Map<string, string>;
  }

  private ownHeld(): Map<string, string> {
    if (this.heldShared) {
      this.held = new Map(this.held);
      this.heldShared = false;
    }
    return this.held as Map<string, string>;
  }

  get lastNonce(): string | undefined {
    return this.lastNonceSent;
  }

  get lastSentVersion(): string | undefined {
    return this.lastVersionSent;
  }

  get lastSentAt(): number | undefined {
    return this.lastSentTime;
  }

  get ackedVersion(): string | undefined {
    return this.ackedVersionValue;
  }

  get ackedAt(): number | undefined {
    return this.ackedTime;
  }

  get lastNack(): NackRecord | undefined {
    return this.nack;
  }

  /**
   * Whether the client has rejected a response and accepted none sent after it: it is running on
   * an older version. (An ACK of a response sent before the NACK, as delta's separate removals
   * response can be, does not clear it.)
   */
  get refusing(): boolean {
    return (
      this.nack !== undefined && !(this.ackedVersionValue !== undefined && this.ackedSentSeq > this.nackSeq)
    );
  }

  setWildcard(wildcard: boolean): void {
    if (wildcard !== this.isWildcard) this.namesKey = undefined;
    this.isWildcard = wildcard;
  }

  /** The client listed names explicitly. */
  markListed(): void {
    this.listedEver = true;
  }

  /** The client says it already holds `version` of `name` (delta initial_resource_versions). */
  holds(name: string, version: string): void {
    this.ownHeld().set(name, version);
    this.heldToken = new HeldToken();
  }

  /**
   * A response went out: the client now holds `resources` (and, with `replacing`, nothing else of
   * this type; delta responses list `removed` names instead). `content` says what the client then
   * holds in a way other subscriptions can share (see HeldToken); without it, a token of its own.
   */
  recordSent(
    response: { readonly nonce: string; readonly version: string; readonly at: number },
    resources: readonly { readonly name: string; readonly version: string }[],
    removed: readonly string[],
    replacing: boolean,
    content?: HeldContent,
  ): void {
    const token = heldTokenAfter(this.heldToken, content);
    const known = content === undefined ? undefined : token.held;
    if (known !== undefined) {
      // Another subscription reached this token first: what it holds is what this one holds.
      this.held = known;
      this.heldShared = true;
    } else {
      let held: Map<string, string>;
      if (!replacing) held = this.ownHeld();
      else if (this.heldShared) held = new Map();
      else (held = this.held as Map<string, string>).clear();
      for (const resource of resources) held.set(resource.name, resource.version);
      for (const name of removed) held.delete(name);
      this.held = held;
      this.heldShared = content !== undefined;
      if (content !== undefined) token.held = held;
    }
    this.heldToken = token;
    this.lastNonceSent = response.nonce;
    this.lastVersionSent = response.version;
    this.lastSentTime = response.at;
    this.lastSentSeq = ++this.seq;
  }

  subscribes(canonicalName: string): boolean {
    return this.isWildcard || (this.byCanonical ?? this.requested).has(canonicalName);
  }

  /** Adds a requested name; returns its canonical name if that is newly subscribed. */
  add(requestedName: string): string | undefined {
    if (this.requested.has(requestedName)) return undefined;
    // Streams in the same state ask for the same names: keep one copy of each, not one per stream.
    const name = interned(internedNames, requestedName, () => requestedName);
    const canonical = canonicalName(this.type, name);
    const requested = this.ownNames();
    if (this.byCanonical === undefined) {
      if (canonical === name) {
        requested.set(name, name);
        return name;
      }
      // The first alias: from now on, keep who stands for what.
      this.byCanonical = new Map();
      for (const own of requested.keys()) this.byCanonical.set(own, new Set([own]));
    }
    requested.set(name, canonical);
    let aliases = this.byCanonical.get(canonical);
    const isNew = aliases === undefined;
    if (aliases === undefined) {
      aliases = new Set();
      this.byCanonical.set(canonical, aliases);
    }
    aliases.add(name);
    return isNew ? canonical : undefined;
  }

  /** Removes a requested name; returns its canonical name if nothing subscribes to it any more. */
  remove(name: string): string | undefined {
    const canonical = this.requested.get(name);
    if (canonical === undefined) return undefined;
    this.ownNames().delete(name);
    if (this.held.has(name)) {
      this.ownHeld().delete(name);
      this.heldToken = new HeldToken();
    }
    if (this.byCanonical === undefined) return canonical;
    const aliases = this.byCanonical.get(canonical)!;
    aliases.delete(name);
    if (aliases.size > 0) return undefined;
    this.byCanonical.delete(canonical);
    return canonical;
  }

  /** Appends the requested names standing for `canonicalName` (none if it is not subscribed). */
  addRequestedFor(canonicalName: string, into: string[]): void {
    if (this.byCanonical === undefined) {
      if (this.requested.has(canonicalName)) into.push(canonicalName);
      return;
    }
    const aliases = this.byCanonical.get(canonicalName);
    if (aliases !== undefined) for (const name of aliases) into.push(name);
  }

  recordNack(nonce: string, code: number, message: string, at: number): void {
    this.nack = { rejectedVersion: this.lastSentVersion ?? '', nonce, code, message, at };
    this.nackSeq = ++this.seq;
  }

  recordAck(versionInfo: string, at: number): void {
    // The response answered is the latest sent (SotW and delta record only those ACKs). Its
    // version is nearly always the one sent: keep that string rather than the request's copy.
    this.ackedVersionValue = versionInfo === this.lastVersionSent ? this.lastVersionSent : versionInfo;
    this.ackedTime = at;
    this.ackedSentSeq = this.lastSentSeq;
  }
}

function heldTokenAfter(before: HeldToken, content: HeldContent | undefined): HeldToken {
  if (content === undefined) return new HeldToken();
  if ('extendedBy' in content) return before.extendedBy(content.extendedBy);
  if ('replacedBy' in content) {
    let token = tokenOfReplacement.get(content.replacedBy);
    if (token === undefined) tokenOfReplacement.set(content.replacedBy, (token = new HeldToken()));
    return token;
  }
  return interned(tokenOfKey, content.key, () => new HeldToken());
}

/** How a request changed what the stream is subscribed to, in canonical names. */
export interface SubscriptionDelta {
  readonly type: XdsType;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly wildcard: boolean;
}
