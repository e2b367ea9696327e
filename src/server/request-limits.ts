// Bounds on what one discovery request may ask for, so a bad or hostile client cannot make the
// server do unbounded work or hold unbounded state. Values are documented in the README.
import * as grpc from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { AnyRequest, LimitViolation, ObservedStream, RequestOutcome, XdsObserver } from './observer';
import type { TypeSubscription } from './type-subscription';

/** Largest discovery request accepted, in bytes (gRPC's own default). */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Longest resource name; no resource etcd-xds makes comes close. */
export const MAX_RESOURCE_NAME_LENGTH = 1024;
/** Most resource names one stream may subscribe to for one type. */
export const MAX_SUBSCRIBED_NAMES = 100_000;

export type { LimitViolation } from './observer';

/** Checks the names a request lists before it is applied. */
export function checkRequest(
  request: DiscoveryRequest__Output | DeltaDiscoveryRequest__Output,
): LimitViolation | undefined {
  const lists =
    'resource_names' in request
      ? [request.resource_names]
      : [
          request.resource_names_subscribe,
          request.resource_names_unsubscribe,
          Object.keys(request.initial_resource_versions),
        ];
  for (const names of lists) {
    if (names.length > MAX_SUBSCRIBED_NAMES) {
      return {
        code: grpc.status.RESOURCE_EXHAUSTED,
        reason: 'too-many-names',
        details: `a request may list at most ${MAX_SUBSCRIBED_NAMES} resource names; this one lists ${names.length}`,
      };
    }
    const long = names.find((name) => name.length > MAX_RESOURCE_NAME_LENGTH);
    if (long !== undefined) {
      return {
        code: grpc.status.INVALID_ARGUMENT,
        reason: 'name-too-long',
        details: `resource name of ${long.length} characters; the limit is ${MAX_RESOURCE_NAME_LENGTH}`,
      };
    }
  }
  return undefined;
}

/** Checks a subscription after a request was applied (delta requests accumulate names). */
export function checkSubscription(subscription: TypeSubscription): LimitViolation | undefined {
  if (subscription.names.size <= MAX_SUBSCRIBED_NAMES) return undefined;
  return {
    code: grpc.status.RESOURCE_EXHAUSTED,
    reason: 'too-many-subscriptions',
    details: `a stream may subscribe to at most ${MAX_SUBSCRIBED_NAMES} ${subscription.type.short} resources`,
  };
}

/**
 * The limits as an observer of the server: --max-streams when a stream opens, the names a request
 * lists before it is applied, and the names a stream subscribes to after.
 */
export class RequestLimits implements XdsObserver {
  constructor(private readonly maxStreams: number) {}

  streamOpening(_peer: string, open: number): LimitViolation | undefined {
    if (open < this.maxStreams) return undefined;
    return {
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: 'too-many-streams',
      details: `this server serves at most ${this.maxStreams} streams; try again later or another replica`,
    };
  }

  requestReceived(_stream: ObservedStream, request: AnyRequest): LimitViolation | undefined {
    return checkRequest(request);
  }

  requestHandled(stream: ObservedStream, result: RequestOutcome): LimitViolation | undefined {
    if (result.delta === undefined) return undefined;
    return checkSubscription(stream.state.subscriptions.get(result.delta.type)!);
  }
}
