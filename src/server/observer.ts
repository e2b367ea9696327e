// What the xDS server tells those who watch the protocol, as go-control-plane's Callbacks do:
// metrics, logs and convergence timing (telemetry.ts), limit checks (request-limits.ts) and the
// NACK backoff (nack-backoff.ts) each implement the hooks they need. The server itself only moves
// requests and responses; a hook that returns a LimitViolation ends the stream.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import type { DeltaDiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { XdsType } from '../proto/xds-types';
import type { ClientProfile } from './client-kind';
import type { DeltaStreamState } from './delta-stream-state';
import type * as grpc from '@grpc/grpc-js';
import type { StreamState } from './stream-state';
import type { SubscriptionDelta } from './type-subscription';

export type Protocol = 'sotw' | 'delta';

/** Why a stream is refused or ended (request-limits.ts decides; the code and details reach the client). */
export interface LimitViolation {
  readonly code: grpc.status;
  readonly reason:
    | 'name-too-long'
    | 'too-many-names'
    | 'too-many-subscriptions'
    | 'too-many-held'
    | 'too-many-streams'
    | 'stalled';
  readonly details: string;
}

export type AnyRequest = DiscoveryRequest__Output | DeltaDiscoveryRequest__Output;

/** A stream as observers see it. */
export interface ObservedStream {
  readonly state: StreamState | DeltaStreamState;
  readonly protocol: Protocol;
  /** Set when the stream is a per-type service (LDS, RDS, CDS, EDS) rather than ADS. */
  readonly onlyType: XdsType | undefined;
  /** Set by the stream's first request. */
  readonly profile: ClientProfile | undefined;
}

/** What the protocol state machine made of a request. */
export interface RequestOutcome {
  readonly outcome: string;
  readonly type: XdsType | undefined;
  readonly delta: SubscriptionDelta | undefined;
}

/** A response as written: its type, nonce, resources and (delta) removed names. */
export interface SentResponse {
  readonly type: XdsType;
  readonly nonce: string;
  readonly resources: readonly { readonly name: string }[];
  readonly removed?: readonly string[];
}

export type HeldReason = 'not-reading' | 'nack-backoff';

/** Every hook is optional; hooks run in the order observers were given. */
export interface XdsObserver {
  /** A stream is about to be served while `open` others are; a violation refuses it. */
  streamOpening?(peer: string, open: number): LimitViolation | undefined;
  streamOpened?(stream: ObservedStream): void;
  /** The stream's first request named its client (stream.profile is now set). */
  clientIdentified?(stream: ObservedStream, node: Node__Output | null | undefined): void;
  /** A request is about to be applied; a violation ends the stream. */
  requestReceived?(stream: ObservedStream, request: AnyRequest): LimitViolation | undefined;
  /** A request was applied; a violation ends the stream. */
  requestHandled?(
    stream: ObservedStream,
    result: RequestOutcome,
    request: AnyRequest,
  ): LimitViolation | undefined;
  /** Responses were written; a push carries the time its oldest etcd change was seen. */
  responsesSent?(
    stream: ObservedStream,
    responses: readonly SentResponse[],
    observedAt: number | undefined,
  ): void;
  /** A push to the stream was held back and merged with later ones. */
  pushHeld?(stream: ObservedStream, reason: HeldReason): void;
  /** A stream was refused (stream undefined: before it was served) or ended for breaking a limit. */
  streamRefused?(stream: ObservedStream | undefined, peer: string, violation: LimitViolation): void;
  streamClosed?(stream: ObservedStream, how: string): void;
  /** The server is shutting down. */
  close?(): void;
}

/** Runs every observer's hook in turn; the first violation wins (later observers are not asked). */
export class Observers implements Required<XdsObserver> {
  constructor(private readonly observers: readonly XdsObserver[]) {}

  streamOpening(peer: string, open: number): LimitViolation | undefined {
    return this.first((o) => o.streamOpening?.(peer, open));
  }

  streamOpened(stream: ObservedStream): void {
    for (const o of this.observers) o.streamOpened?.(stream);
  }

  clientIdentified(stream: ObservedStream, node: Node__Output | null | undefined): void {
    for (const o of this.observers) o.clientIdentified?.(stream, node);
  }

  requestReceived(stream: ObservedStream, request: AnyRequest): LimitViolation | undefined {
    return this.first((o) => o.requestReceived?.(stream, request));
  }

  requestHandled(
    stream: ObservedStream,
    result: RequestOutcome,
    request: AnyRequest,
  ): LimitViolation | undefined {
    return this.first((o) => o.requestHandled?.(stream, result, request));
  }

  responsesSent(
    stream: ObservedStream,
    responses: readonly SentResponse[],
    observedAt: number | undefined,
  ): void {
    for (const o of this.observers) o.responsesSent?.(stream, responses, observedAt);
  }

  pushHeld(stream: ObservedStream, reason: HeldReason): void {
    for (const o of this.observers) o.pushHeld?.(stream, reason);
  }

  streamRefused(stream: ObservedStream | undefined, peer: string, violation: LimitViolation): void {
    for (const o of this.observers) o.streamRefused?.(stream, peer, violation);
  }

  streamClosed(stream: ObservedStream, how: string): void {
    for (const o of this.observers) o.streamClosed?.(stream, how);
  }

  close(): void {
    for (const o of this.observers) o.close?.();
  }

  private first(hook: (observer: XdsObserver) => LimitViolation | undefined): LimitViolation | undefined {
    let violation: LimitViolation | undefined;
    for (const o of this.observers) violation ??= hook(o);
    return violation;
  }
}
