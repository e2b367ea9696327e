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
  /**
   * Name → version the client holds: what it was sent (and, for delta, what it said it had on
   * reconnect). A NACKed version stays here, so it is not sent again until it changes.
   */
  readonly sent = new Map<string, string>();
  /** When the oldest etcd change pushed to this subscription and not yet ACKed was seen. */
  changeSeenAt: number | undefined;

  constructor(readonly type: XdsType) {}

  subscribes(canonicalName: string): boolean {
    return this.wildcard || this.canonical.has(canonicalName);
  }

  /** Adds a requested name; returns its canonical name if that is newly subscribed. */
  add(name: string): string | undefined {
    if (this.names.has(name)) return undefined;
    const canonical = canonicalName(this.type, name);
    this.names.set(name, canonical);
    let aliases = this.canonical.get(canonical);
    const isNew = aliases === undefined;
    if (aliases === undefined) {
      aliases = new Set();
      this.canonical.set(canonical, aliases);
    }
    aliases.add(name);
    return isNew ? canonical : undefined;
  }

  /** Removes a requested name; returns its canonical name if nothing subscribes to it any more. */
  remove(name: string): string | undefined {
    const canonical = this.names.get(name);
    if (canonical === undefined) return undefined;
    this.names.delete(name);
    this.sent.delete(name);
    const aliases = this.canonical.get(canonical)!;
    aliases.delete(name);
    if (aliases.size > 0) return undefined;
    this.canonical.delete(canonical);
    return canonical;
  }

  /** Appends the requested names standing for `canonicalName` (none if it is not subscribed). */
  addRequestedFor(canonicalName: string, into: string[]): void {
    const aliases = this.canonical.get(canonicalName);
    if (aliases !== undefined) for (const name of aliases) into.push(name);
  }

  recordNack(nonce: string, code: number, message: string, at: number): void {
    this.lastNack = { rejectedVersion: this.lastSentVersion ?? '', nonce, code, message, at };
  }

  recordAck(versionInfo: string, at: number): void {
    this.ackedVersion = versionInfo;
    this.ackedAt = at;
  }
}

/** How a request changed what the stream is subscribed to, in canonical names. */
export interface SubscriptionDelta {
  readonly type: XdsType;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly wildcard: boolean;
}
