// CSDS (envoy.service.status.v3.ClientStatusDiscoveryService) on the xDS listener: for each
// connected client, every resource it subscribes to with what was sent, ACKed or NACKed. It
// reads the same stream state as /debug/clients, so the two always agree.
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import * as grpc from '@grpc/grpc-js';
import { Writer } from 'protobufjs';
import { RE2JS } from 're2js';
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import type { ClientStatusRequest__Output } from '../generated/envoy/service/status/v3/ClientStatusRequest';
import type { StringMatcher__Output } from '../generated/envoy/type/matcher/v3/StringMatcher';
import type { Snapshot } from '../cache/snapshot';
import { DECODE_OPTIONS, encodeFromObject, messageType } from '../proto/proto-root';
import type { TypeSubscription } from '../server/type-subscription';
import type { StreamView } from '../server/xds-server';
import type { HeavyRequests } from './heavy-requests';
import { mapped } from './json-stream';
import type { SlicedTask, ViewBuilds } from './view-builds';

const REQUEST = 'envoy.service.status.v3.ClientStatusRequest';
const RESPONSE = 'envoy.service.status.v3.ClientStatusResponse';
export const CSDS_SERVICE_NAME = 'envoy.service.status.v3.ClientStatusDiscoveryService';

export interface CsdsSources {
  readonly streams: () => readonly StreamView[];
  /** The snapshot a group of clients (StreamView.clientKey) is served now, for resource contents. */
  readonly snapshot: (clientKey: string) => Snapshot | undefined;
  /** Changes whenever some stream's state does: an answer is current while it does not. */
  readonly version: () => number;
  readonly views: ViewBuilds;
  readonly heavy: HeavyRequests;
}

class CsdsError extends Error {}

type StringMatch = (value: string) => boolean;

/** A node id matcher, checked (and its regex compiled) once per request. */
function stringMatch(matcher: StringMatcher__Output): StringMatch {
  const fold = (text: string): string => (matcher.ignore_case ? text.toLowerCase() : text);
  switch (matcher.match_pattern) {
    case 'exact': {
      const exact = fold(matcher.exact ?? '');
      return (value) => fold(value) === exact;
    }
    case 'prefix': {
      const prefix = fold(matcher.prefix ?? '');
      return (value) => fold(value).startsWith(prefix);
    }
    case 'suffix': {
      const suffix = fold(matcher.suffix ?? '');
      return (value) => fold(value).endsWith(suffix);
    }
    case 'contains': {
      const part = fold(matcher.contains ?? '');
      return (value) => fold(value).includes(part);
    }
    case 'safe_regex': {
      let regex: RE2JS;
      try {
        regex = RE2JS.compile(matcher.safe_regex?.regex ?? '');
      } catch (error) {
        throw new CsdsError(`node_id regex is invalid: ${(error as Error).message}`);
      }
      return (value) => regex.matches(value);
    }
    default:
      throw new CsdsError(`node_id matcher ${String(matcher.match_pattern)} is not supported`);
  }
}

/** Which nodes a request selects; throws CsdsError for matchers that are not supported. */
function nodeSelector(request: ClientStatusRequest__Output): (node: Node__Output | null) => boolean {
  if (request.node_matchers.length === 0) return () => true;
  const matchers = request.node_matchers.map((matcher) => {
    if (matcher.node_metadatas.length > 0) throw new CsdsError('node_metadatas matchers are not supported');
    return matcher.node_id === null ? () => true : stringMatch(matcher.node_id);
  });
  return (node) => matchers.some((matches) => matches(node?.id ?? ''));
}

function timestamp(ms: number | undefined): object | undefined {
  return ms === undefined ? undefined : { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** One GenericXdsConfig per subscribed resource name of one type on one stream. */
function resourceConfigs(
  subscription: TypeSubscription,
  snapshot: Snapshot | undefined,
  withContents: boolean,
): Iterable<object> {
  const type = subscription.type;
  // In the order subscribed (sent, for a wildcard); copied, not sorted: it may be 100,000 names.
  const names = [...(subscription.wildcard ? subscription.sent : subscription.names).keys()];
  const nacked =
    subscription.lastNack !== undefined && subscription.lastNack.nonce === subscription.lastNonce;
  const acked =
    subscription.ackedVersion !== undefined && subscription.ackedVersion === subscription.lastSentVersion;
  return mapped(names, (name) => {
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
              details: subscription.lastNack.message,
              version_info: subscription.lastNack.rejectedVersion,
              last_update_attempt: timestamp(subscription.lastNack.at),
            },
          }
        : {}),
    };
  });
}

const NODE = 'envoy.config.core.v3.Node';
const GENERIC_XDS_CONFIG = 'envoy.service.status.v3.ClientConfig.GenericXdsConfig';

/** A length-delimited field: its tag, its length and `bytes`. */
function field(id: number, bytes: Uint8Array): Uint8Array {
  return Writer.create()
    .uint32((id << 3) | 2)
    .bytes(bytes)
    .finish();
}

/**
 * The encoded ClientStatusResponse for a request, one ClientConfig per node (its streams merged),
 * produced a piece at a time: `undefined` marks a point where the work may pause.
 */
function* clientStatusBytes(
  selected: (node: Node__Output | null) => boolean,
  streams: readonly StreamView[],
  snapshot: (clientKey: string) => Snapshot | undefined,
  withContents: boolean,
): Generator<Buffer | undefined> {
  const byNode = new Map<string, { node: Node__Output | null; streams: StreamView[] }>();
  for (let i = 0; i < streams.length; i++) {
    const view = streams[i];
    const node = view.state.node;
    if (selected(node)) {
      const key = node?.id ?? `stream-${view.state.id}`;
      let entry = byNode.get(key);
      if (entry === undefined) {
        entry = { node, streams: [] };
        byNode.set(key, entry);
      }
      entry.streams.push(view);
    }
    if (i % 256 === 255) yield undefined;
  }
  for (const { node, streams: views } of byNode.values()) {
    const parts: Uint8Array[] = node === null ? [] : [field(1, encodeFromObject(NODE, node))];
    for (const view of views) {
      const served = view.clientKey === undefined ? undefined : snapshot(view.clientKey);
      for (const subscription of view.state.subscriptions.values()) {
        let count = 0;
        for (const config of resourceConfigs(subscription, served, withContents)) {
          parts.push(field(3, encodeFromObject(GENERIC_XDS_CONFIG, config)));
          if (++count % 64 === 0) yield undefined;
        }
      }
    }
    yield Buffer.from(field(1, Buffer.concat(parts)));
  }
}

/** Runs a generator of output pieces as sliced work. */
class GeneratorTask implements SlicedTask {
  done = false;
  constructor(private readonly pieces: Iterator<Buffer | undefined>) {}

  step(deadline: number, now: () => number): Buffer[] {
    const chunks: Buffer[] = [];
    for (;;) {
      const next = this.pieces.next();
      if (next.done === true) {
        this.done = true;
        return chunks;
      }
      if (next.value !== undefined) chunks.push(next.value);
      if (now() >= deadline) return chunks;
    }
  }
}

/**
 * The encoded ClientStatusResponse for a request: built once per state of the streams and shared
 * by identical requests meanwhile, a slice at a time.
 */
export function clientStatus(request: ClientStatusRequest__Output, sources: CsdsSources): Promise<Buffer> {
  const selected = nodeSelector(request);
  const withContents = !request.exclude_resource_contents;
  const key = `csds ${JSON.stringify(request.node_matchers)} ${withContents}`;
  return sources.views
    .get('csds', key, [sources.version()], () => {
      const pieces = clientStatusBytes(selected, sources.streams(), sources.snapshot, withContents);
      return new GeneratorTask(pieces);
    })
    .whole();
}

/** Built answers are bytes already; objects (from other callers) are encoded. */
function encodeResponse(response: object): Buffer {
  if (Buffer.isBuffer(response)) return response;
  return Buffer.from(encodeFromObject(RESPONSE, response));
}

function decodeRequest(bytes: Buffer): ClientStatusRequest__Output {
  const type = messageType(REQUEST);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as ClientStatusRequest__Output;
}

const serializers = {
  requestSerialize: (message: object) => Buffer.from(encodeFromObject(REQUEST, message)),
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

/** Requests one StreamClientStatus stream may have waiting for their answer. */
const MAX_WAITING_ON_STREAM = 8;

function failure(code: grpc.status, details: string, metadata = new grpc.Metadata()): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata });
}

export function csdsImplementation(sources: CsdsSources): UntypedServiceImplementation {
  /** Answers one request, holding one heavy-request turn while the answer is built. */
  const answer = async (request: ClientStatusRequest__Output): Promise<Buffer> => {
    const end = sources.heavy.begin('csds');
    if (end === undefined) {
      // gRFC A6's server pushback: retry after a second.
      const metadata = new grpc.Metadata();
      metadata.set('grpc-retry-pushback-ms', '1000');
      throw failure(
        grpc.status.RESOURCE_EXHAUSTED,
        `${sources.heavy.max} heavy admin requests are already running; retry later`,
        metadata,
      );
    }
    try {
      return await clientStatus(request, sources);
    } catch (error) {
      if (error instanceof CsdsError) throw failure(grpc.status.INVALID_ARGUMENT, error.message);
      throw failure(grpc.status.INTERNAL, 'failed to build the client status');
    } finally {
      end();
    }
  };
  return {
    FetchClientStatus: (
      call: grpc.ServerUnaryCall<ClientStatusRequest__Output, object>,
      callback: grpc.sendUnaryData<object>,
    ) => {
      answer(call.request).then(
        (response) => callback(null, response),
        (error: grpc.ServiceError) => callback(error),
      );
    },
    StreamClientStatus: (call: grpc.ServerDuplexStream<ClientStatusRequest__Output, object>) => {
      // Answered one at a time, in order.
      let answered: Promise<void> = Promise.resolve();
      let waiting = 0;
      let ended = false;
      const end = (error?: grpc.ServiceError): void => {
        if (ended) return;
        ended = true;
        if (error === undefined) call.end();
        else call.emit('error', error);
      };
      call.on('data', (request: ClientStatusRequest__Output) => {
        if (++waiting > MAX_WAITING_ON_STREAM) {
          end(
            failure(
              grpc.status.RESOURCE_EXHAUSTED,
              `more than ${MAX_WAITING_ON_STREAM} requests waiting on one stream`,
            ),
          );
          return;
        }
        answered = answered.then(async () => {
          try {
            const response = await answer(request);
            if (!ended) call.write(response);
          } catch (error) {
            end(error as grpc.ServiceError);
          } finally {
            waiting--;
          }
        });
      });
      call.on('end', () => void answered.then(() => end()));
      call.on('error', () => undefined);
      call.on('cancelled', () => (ended = true));
    },
  };
}
