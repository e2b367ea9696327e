// CSDS (envoy.service.status.v3.ClientStatusDiscoveryService) on the xDS listener: for each
// connected client, every resource it subscribes to with what was sent, ACKed or NACKed. It
// reads the same stream state as /debug/clients, so the two always agree.
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import * as grpc from '@grpc/grpc-js';
import { RE2JS } from 're2js';
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import type { ClientStatusRequest__Output } from '../generated/envoy/service/status/v3/ClientStatusRequest';
import type { StringMatcher__Output } from '../generated/envoy/type/matcher/v3/StringMatcher';
import type { Snapshot } from '../cache/snapshot';
import { DECODE_OPTIONS, messageType } from '../proto/proto-root';
import type { Flavour } from '../translate/flavours';
import type { TypeSubscription } from '../server/type-subscription';
import type { StreamView } from '../server/xds-server';

const REQUEST = 'envoy.service.status.v3.ClientStatusRequest';
const RESPONSE = 'envoy.service.status.v3.ClientStatusResponse';
export const CSDS_SERVICE_NAME = 'envoy.service.status.v3.ClientStatusDiscoveryService';

export interface CsdsSources {
  readonly streams: () => readonly StreamView[];
  /** The snapshot a flavour is served now (resource contents for resources still current). */
  readonly snapshot: (flavour: Flavour) => Snapshot | undefined;
}

class CsdsError extends Error {}

function stringMatches(matcher: StringMatcher__Output, value: string): boolean {
  const fold = (text: string): string => (matcher.ignore_case ? text.toLowerCase() : text);
  switch (matcher.match_pattern) {
    case 'exact':
      return fold(value) === fold(matcher.exact ?? '');
    case 'prefix':
      return fold(value).startsWith(fold(matcher.prefix ?? ''));
    case 'suffix':
      return fold(value).endsWith(fold(matcher.suffix ?? ''));
    case 'contains':
      return fold(value).includes(fold(matcher.contains ?? ''));
    case 'safe_regex':
      return RE2JS.compile(matcher.safe_regex?.regex ?? '').matches(value);
    default:
      throw new CsdsError(`node_id matcher ${String(matcher.match_pattern)} is not supported`);
  }
}

function nodeSelected(node: Node__Output | null, request: ClientStatusRequest__Output): boolean {
  if (request.node_matchers.length === 0) return true;
  return request.node_matchers.some((matcher) => {
    if (matcher.node_metadatas.length > 0) throw new CsdsError('node_metadatas matchers are not supported');
    return matcher.node_id === null || stringMatches(matcher.node_id, node?.id ?? '');
  });
}

function timestamp(ms: number | undefined): object | undefined {
  return ms === undefined ? undefined : { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** One GenericXdsConfig per subscribed resource name of one type on one stream. */
function resourceConfigs(
  subscription: TypeSubscription,
  snapshot: Snapshot | undefined,
  withContents: boolean,
): object[] {
  const type = subscription.type;
  const names = subscription.wildcard ? [...subscription.sent.keys()] : [...subscription.names.keys()];
  const nacked =
    subscription.lastNack !== undefined && subscription.lastNack.nonce === subscription.lastNonce;
  const acked =
    subscription.ackedVersion !== undefined && subscription.ackedVersion === subscription.lastSentVersion;
  return names.sort().map((name) => {
    const version = subscription.sent.get(name);
    let status: [string, string];
    if (version === undefined)
      status =
        subscription.lastNonce === undefined ? ['NOT_SENT', 'REQUESTED'] : ['NOT_SENT', 'DOES_NOT_EXIST'];
    else if (nacked) status = ['ERROR', 'NACKED'];
    else if (acked) status = ['SYNCED', 'ACKED'];
    else status = ['STALE', 'REQUESTED'];
    const current = version === undefined ? undefined : snapshot?.get(type, name);
    return {
      type_url: type.typeUrl,
      name,
      version_info: version ?? '',
      ...(withContents && current?.version === version && current !== undefined
        ? { xds_config: { type_url: type.typeUrl, value: Buffer.from(current.bytes) } }
        : {}),
      last_updated: timestamp(subscription.lastSentAt),
      config_status: status[0],
      client_status: status[1],
      ...(nacked
        ? {
            error_state: {
              details: subscription.lastNack!.message,
              version_info: subscription.lastNack!.rejectedVersion,
              last_update_attempt: timestamp(subscription.lastNack!.at),
            },
          }
        : {}),
    };
  });
}

/** The ClientStatusResponse for a request: one ClientConfig per node (its streams merged). */
export function clientStatus(request: ClientStatusRequest__Output, sources: CsdsSources): object {
  const byNode = new Map<string, { node: Node__Output | null; configs: object[] }>();
  for (const view of sources.streams()) {
    const node = view.state.node;
    if (!nodeSelected(node, request)) continue;
    const key = node?.id ?? `stream-${view.state.id}`;
    let entry = byNode.get(key);
    if (entry === undefined) {
      entry = { node, configs: [] };
      byNode.set(key, entry);
    }
    const snapshot = view.profile === undefined ? undefined : sources.snapshot(view.profile.flavour);
    for (const subscription of view.state.subscriptions.values()) {
      entry.configs.push(...resourceConfigs(subscription, snapshot, !request.exclude_resource_contents));
    }
  }
  return {
    config: [...byNode.values()].map(({ node, configs }) => ({
      node: node ?? undefined,
      generic_xds_configs: configs,
    })),
  };
}

function encodeResponse(response: object): Buffer {
  const type = messageType(RESPONSE);
  return Buffer.from(type.encode(type.fromObject(response)).finish());
}

function decodeRequest(bytes: Buffer): ClientStatusRequest__Output {
  const type = messageType(REQUEST);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as ClientStatusRequest__Output;
}

const serializers = {
  requestSerialize: (message: object) =>
    Buffer.from(messageType(REQUEST).encode(messageType(REQUEST).fromObject(message)).finish()),
  requestDeserialize: decodeRequest,
  responseSerialize: encodeResponse,
  responseDeserialize: (bytes: Buffer) =>
    messageType(RESPONSE).toObject(messageType(RESPONSE).decode(bytes), DECODE_OPTIONS),
};

export const CSDS_SERVICE: ServiceDefinition = {
  StreamClientStatus: {
    path: `/${CSDS_SERVICE_NAME}/StreamClientStatus`,
    requestStream: true,
    responseStream: true,
    ...serializers,
  },
  FetchClientStatus: {
    path: `/${CSDS_SERVICE_NAME}/FetchClientStatus`,
    requestStream: false,
    responseStream: false,
    ...serializers,
  },
};

export function csdsImplementation(sources: CsdsSources): UntypedServiceImplementation {
  const answer = (
    request: ClientStatusRequest__Output,
  ): { response: object } | { error: grpc.ServiceError } => {
    try {
      return { response: clientStatus(request, sources) };
    } catch (error) {
      const details = error instanceof CsdsError ? error.message : 'failed to build the client status';
      const code = error instanceof CsdsError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
      return { error: Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }) };
    }
  };
  return {
    FetchClientStatus: (
      call: grpc.ServerUnaryCall<ClientStatusRequest__Output, object>,
      callback: grpc.sendUnaryData<object>,
    ) => {
      const result = answer(call.request);
      if ('error' in result) callback(result.error);
      else callback(null, result.response);
    },
    StreamClientStatus: (call: grpc.ServerDuplexStream<ClientStatusRequest__Output, object>) => {
      call.on('data', (request: ClientStatusRequest__Output) => {
        const result = answer(request);
        if ('error' in result) call.emit('error', result.error);
        else call.write(result.response);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  };
}
