// What one stream subscribes to for one resource type, and what it was sent and acknowledged.
import type { XdsType } from '../proto/xds-types';
import { canonicalName } from '../translate/resource-names';

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
  /** Requested name → canonical name. */
  private readonly requested = new Map<string, string>();
  /** Canonical name → the requested names that stand for it. */
  private readonly byCanonical = new Map<string, Set<string>>();
  /**
   * Name → version the client holds: what it was sent (and, for delta, what it said it had on
   * reconnect). A NACKed version stays here, so it is not sent again until it changes.
   */
  private readonly held = new Map<string, string>();
  private last:
    | { readonly nonce: string; readonly version: string; readonly at: number; readonly seq: number }
    | undefined;
  /** `sentSeq`: the sequence number of the response the ACK answered. */
  private acked: { readonly version: string; readonly at: number; readonly sentSeq: number } | undefined;
  private nack: NackRecord | undefined;
  /** When the NACK arrived, in the order of sends and answers. */
  private nackSeq = 0;
  /** Orders sends and answers (timestamps cannot: two may share a millisecond, clocks step). */
  private seq = 0;

  constructor(readonly type: XdsType) {}

  get wildcard(): boolean {
    return this.isWildcard;
  }

  /** Requested name → canonical name. */
  get names(): ReadonlyMap<string, string> {
    return this.requested;
  }

  /** Canonical name → the requested names that stand for it. */
  get canonical(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.byCanonical;
  }

  /** Whether the client ever listed names explicitly (then an empty list means "none", not wildcard). */
  get explicitEver(): boolean {
    return this.listedEver;
  }

  /** Name → the version the client holds. */
  get sent(): ReadonlyMap<string, string> {
    return this.held;
  }

  get lastNonce(): string | undefined {
    return this.last?.nonce;
  }

  get lastSentVersion(): string | undefined {
    return this.last?.version;
  }

  get lastSentAt(): number | undefined {
    return this.last?.at;
  }

  get ackedVersion(): string | undefined {
    return this.acked?.version;
  }

  get ackedAt(): number | undefined {
    return this.acked?.at;
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
    return this.nack !== undefined && !(this.acked !== undefined && this.acked.sentSeq > this.nackSeq);
  }

  setWildcard(wildcard: boolean): void {
    this.isWildcard = wildcard;
  }

  /** The client listed names explicitly. */
  markListed(): void {
    this.listedEver = true;
  }

  /** The client says it already holds `version` of `name` (delta initial_resource_versions). */
  holds(name: string, version: string): void {
    this.held.set(name, version);
  }

  /**
   * A response went out: the client now holds `resources` (and, with `replacing`, nothing else of
   * this type; delta responses list `removed` names instead).
   */
  recordSent(
    response: { readonly nonce: string; readonly version: string; readonly at: number },
    resources: readonly { readonly name: string; readonly version: string }[],
    removed: readonly string[],
    replacing: boolean,
  ): void {
    if (replacing) this.held.clear();
    for (const resource of resources) this.held.set(resource.name, resource.version);
    for (const name of removed) this.held.delete(name);
    this.last = { nonce: response.nonce, version: response.version, at: response.at, seq: ++this.seq };
  }

  subscribes(canonicalName: string): boolean {
    return this.isWildcard || this.byCanonical.has(canonicalName);
  }

  /** Adds a requested name; returns its canonical name if that is newly subscribed. */
  add(name: string): string | undefined {
    if (this.requested.has(name)) return undefined;
    const canonical = canonicalName(this.type, name);
    this.requested.set(name, canonical);
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
    this.requested.delete(name);
    this.held.delete(name);
    const aliases = this.byCanonical.get(canonical)!;
    aliases.delete(name);
    if (aliases.size > 0) return undefined;
    this.byCanonical.delete(canonical);
    return canonical;
  }

  /** Appends the requested names standing for `canonicalName` (none if it is not subscribed). */
  addRequestedFor(canonicalName: string, into: string[]): void {
    const aliases = this.byCanonical.get(canonicalName);
    if (aliases !== undefined) for (const name of aliases) into.push(name);
  }

  recordNack(nonce: string, code: number, message: string, at: number): void {
    this.nack = { rejectedVersion: this.lastSentVersion ?? '', nonce, code, message, at };
    this.nackSeq = ++this.seq;
  }

  recordAck(versionInfo: string, at: number): void {
    // The response answered is the latest sent (SotW and delta record only those ACKs).
    this.acked = { version: versionInfo, at, sentSeq: this.last?.seq ?? 0 };
  }
}

/** How a request changed what the stream is subscribed to, in canonical names. */
export interface SubscriptionDelta {
  readonly type: XdsType;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly wildcard: boolean;
}
