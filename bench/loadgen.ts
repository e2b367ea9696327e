// The load generator: N lightweight simulated xDS clients on raw grpc-js ADS streams (state of
// the world). Each subscribes to LDS/RDS/CDS/EDS for one service as a proxyless gRPC client
// would, ACKs every response at once, and records when each EDS version arrived. It reads only
// the response fields a client needs to ACK (version_info, type_url, nonce) and skips the
// resources, so the generator spends little of the machine's two cores.
//
// Two transports (`--loadgen`): grpc-js's client stack (a real gRPC client's costs), or gRPC's
// framing written on node:http2 directly (`http2`: about what a server spends per message, so
// the load generator no longer bounds what the bench can see of the server).
//
// Runs as a child process of bench/run.ts, driven over IPC (see LoadgenCommand).
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../src/proto/xds-types';
import { ADS_SERVICE, encodeDiscoveryRequest } from '../src/server/ads-service';

export type LoadgenTransport = 'grpc-js' | 'http2';

export type LoadgenCommand =
  | {
      cmd: 'open';
      target: string;
      streams: number;
      /** Stream i subscribes to subscriptions[i % length]. */
      subscriptions: { service: string; clusters: string[] }[];
      /** Streams per HTTP/2 connection. */
      streamsPerChannel: number;
      /**
       * Streams that read their first response of each type, then stop reading (their connection
       * still answers pings), as a hung client would; each on a connection of its own.
       */
      stuck?: boolean;
      /** Stream i sends callerLabels[i % length] as its node's metadata (contract §7); none if absent. */
      callerLabels?: Record<string, string>[];
      /** grpc-js's client stack (default), or gRPC framing on node:http2. */
      transport?: LoadgenTransport;
    }
  | { cmd: 'mark' }
  | { cmd: 'arrivals' }
  /** Answers with arrivals once every stream has an EDS response since the mark, or at timeoutMs. */
  | { cmd: 'await'; timeoutMs: number }
  | { cmd: 'stats' }
  | { cmd: 'close' };

export type LoadgenEvent =
  | { ev: 'opened'; streams: number; ms: number }
  | { ev: 'marked' }
  | {
      ev: 'arrivals';
      /** Per stream: `now()` of the first EDS response since the mark, or null. */
      times: (number | null)[];
      /** Per stream: EDS version_info last received. */
      versions: string[];
      responses: number;
      errors: number;
    }
  | {
      ev: 'stats';
      /** Responses received, over all streams. */
      responses: number;
      /** `now()` of the latest response on any stream. */
      lastResponseAt: number;
      errors: number;
    }
  | { ev: 'closed' }
  | { ev: 'error'; message: string };

/**
 * Milliseconds on the system-wide monotonic clock: the bench compares times taken in different
 * processes (the write in run.ts, the arrival here), which each process's wall-clock origin
 * (`performance.timeOrigin`) would skew whenever the clock is adjusted between their starts.
 */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

const EDS = ENDPOINT.typeUrl;

interface ResponseHead {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
}

/** DiscoveryResponse fields 1 (version_info), 4 (type_url), 5 (nonce); resources skipped. */
function decodeHead(buffer: Buffer): ResponseHead {
  const reader = protobuf.Reader.create(buffer);
  const head: ResponseHead = { versionInfo: '', typeUrl: '', nonce: '' };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1) head.versionInfo = reader.string();
    else if (field === 4) head.typeUrl = reader.string();
    else if (field === 5) head.nonce = reader.string();
    else reader.skipType(tag & 7);
  }
  return head;
}

/** One ADS stream as the simulated client uses it, whatever carries it. */
interface AdsCall {
  write(request: Buffer): void;
  on(event: 'data', listener: (head: ResponseHead) => void): void;
  on(event: 'error', listener: () => void): void;
  pause(): void;
  cancel(): void;
}

/** A connection that opens ADS streams: a grpc-js channel, or an HTTP/2 session. */
interface AdsConnection {
  open(): AdsCall;
  close(): void;
}

class GrpcJsConnection implements AdsConnection {
  // A channel of its own (not shared through the global subchannel pool): one HTTP/2 connection
  // per streamsPerChannel streams, as separate client processes would have.
  private readonly client: grpc.Client;

  constructor(target: string) {
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 << 20,
    });
  }

  open(): AdsCall {
    return this.client.makeBidiStreamRequest(
      ADS_SERVICE.StreamAggregatedResources.path,
      (b: Buffer) => b,
      decodeHead,
    );
  }

  close(): void {
    this.client.close();
  }
}

/**
 * gRPC over node:http2 with nothing in between: each message is a 5-byte prefix (not compressed,
 * big-endian length) and the bytes, each way. No deadlines, metadata, retries or flow-control
 * tuning: what a server's own transport does per message, on the client side.
 */
class Http2Connection implements AdsConnection {
  private readonly session: http2.ClientHttp2Session;

  constructor(target: string) {
    this.session = http2.connect(`http://${target}`);
    this.session.on('error', () => undefined); // each stream reports its own failure
  }

  open(): AdsCall {
    const stream = this.session.request({
      ':method': 'POST',
      ':path': ADS_SERVICE.StreamAggregatedResources.path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let pending: Buffer = Buffer.alloc(0);
    const listeners: { data: ((head: ResponseHead) => void)[]; error: (() => void)[] } = {
      data: [],
      error: [],
    };
    stream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (pending.length < 5 + length) break;
        const head = decodeHead(pending.subarray(5, 5 + length));
        pending = pending.subarray(5 + length);
        for (const listener of listeners.data) listener(head);
      }
    });
    stream.on('error', () => listeners.error.forEach((listener) => listener()));
    // A stream that ends with a non-OK grpc-status failed (in trailers, or in the headers of a
    // trailers-only answer).
    const status = (headers: http2.IncomingHttpHeaders): void => {
      const code = headers['grpc-status'];
      if (code !== undefined && code !== '0') listeners.error.forEach((listener) => listener());
    };
    stream.on('response', status);
    stream.on('trailers', status);
    return {
      write: (request) => {
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(request.length, 1);
        stream.write(Buffer.concat([prefix, request]));
      },
      on: (event: 'data' | 'error', listener: never) => void listeners[event].push(listener),
      pause: () => stream.pause(),
      cancel: () => stream.close(http2.constants.NGHTTP2_CANCEL),
    };
  }

  close(): void {
    this.session.close();
  }
}

class SimulatedClient {
  private readonly call: AdsCall;
  private readonly names: Map<string, string[]>;
  seenTypes = new Set<string>();
  edsVersion = '';
  markedAt: number | null = null;
  marked = false;
  responses = 0;
  lastResponseAt = 0;
  failed = false;

  constructor(
    connection: AdsConnection,
    index: number,
    subscription: { service: string; clusters: string[] },
    private readonly onFirstOfEveryType: () => void,
    private readonly onMarkedArrival: () => void,
    private readonly stuck = false,
    labels: Record<string, string> | undefined = undefined,
  ) {
    const service = subscription.service;
    this.names = new Map([
      [LISTENER.typeUrl, [service]],
      [ROUTE.typeUrl, [service]],
      [CLUSTER.typeUrl, subscription.clusters],
      [EDS, subscription.clusters],
    ]);
    this.call = connection.open();
    this.call.on('data', (head: ResponseHead) => this.onResponse(head));
    this.call.on('error', () => (this.failed = true));
    let first = true;
    for (const [typeUrl, names] of this.names) {
      this.call.write(
        encodeDiscoveryRequest({
          ...(first
            ? {
                node: {
                  id: `bench-${index}`,
                  user_agent_name: 'etcd-xds-bench',
                  locality: {},
                  ...(labels && {
                    metadata: {
                      fields: Object.fromEntries(
                        Object.entries(labels).map(([key, value]) => [key, { stringValue: value }]),
                      ),
                    },
                  }),
                },
              }
            : {}),
          type_url: typeUrl,
          resource_names: names,
        }),
      );
      first = false;
    }
  }

  private onResponse(head: ResponseHead): void {
    const at = now();
    this.responses++;
    this.lastResponseAt = at;
    this.call.write(
      encodeDiscoveryRequest({
        type_url: head.typeUrl,
        version_info: head.versionInfo,
        response_nonce: head.nonce,
        resource_names: this.names.get(head.typeUrl) ?? [],
      }),
    );
    if (head.typeUrl === EDS) {
      this.edsVersion = head.versionInfo;
      if (this.marked && this.markedAt === null) {
        this.markedAt = at;
        this.onMarkedArrival();
      }
    }
    if (!this.seenTypes.has(head.typeUrl)) {
      this.seenTypes.add(head.typeUrl);
      if (this.seenTypes.size === this.names.size) {
        if (this.stuck) this.call.pause();
        this.onFirstOfEveryType();
      }
    }
  }

  mark(): void {
    this.marked = true;
    this.markedAt = null;
  }

  close(): void {
    this.call.cancel();
  }
}

function main(): void {
  const clients: SimulatedClient[] = [];
  const stuckClients: SimulatedClient[] = [];
  const channels: AdsConnection[] = [];
  const send = (event: LoadgenEvent): void => void process.send!(event);
  let arrived = 0;
  let awaiting: NodeJS.Timeout | undefined;
  const sendArrivals = (): void => {
    clearTimeout(awaiting);
    awaiting = undefined;
    send({
      ev: 'arrivals',
      times: clients.map((c) => c.markedAt),
      versions: clients.map((c) => c.edsVersion),
      responses: clients.reduce((sum, c) => sum + c.responses, 0),
      errors: clients.filter((c) => c.failed).length,
    });
  };
  const onMarkedArrival = (): void => {
    arrived++;
    if (awaiting !== undefined && arrived === clients.length) sendArrivals();
  };

  process.on('message', (command: LoadgenCommand) => {
    switch (command.cmd) {
      case 'open': {
        const started = now();
        let ready = 0;
        const onReady = (): void => {
          ready++;
          if (ready === command.streams) send({ ev: 'opened', streams: ready, ms: now() - started });
        };
        if (command.streams === 0) send({ ev: 'opened', streams: 0, ms: 0 });
        for (let i = 0; i < command.streams; i++) {
          if (command.stuck === true || i % command.streamsPerChannel === 0) {
            channels.push(
              command.transport === 'http2'
                ? new Http2Connection(command.target)
                : new GrpcJsConnection(command.target),
            );
          }
          const subscription = command.subscriptions[i % command.subscriptions.length];
          const client = new SimulatedClient(
            channels.at(-1)!,
            i,
            subscription,
            onReady,
            // A stuck stream's responses never arrive: it is not awaited.
            command.stuck === true ? () => undefined : onMarkedArrival,
            command.stuck === true,
            command.callerLabels?.[i % command.callerLabels.length],
          );
          // Stuck streams are kept apart from the measured ones (see 'close').
          (command.stuck === true ? stuckClients : clients).push(client);
        }
        break;
      }
      case 'mark':
        arrived = 0;
        for (const client of clients) client.mark();
        send({ ev: 'marked' });
        break;
      case 'arrivals':
        sendArrivals();
        break;
      case 'stats':
        send({
          ev: 'stats',
          responses: clients.reduce((sum, c) => sum + c.responses, 0),
          lastResponseAt: clients.reduce((latest, c) => Math.max(latest, c.lastResponseAt), 0),
          errors: clients.filter((c) => c.failed).length,
        });
        break;
      case 'await':
        if (arrived === clients.length) sendArrivals();
        else awaiting = setTimeout(sendArrivals, command.timeoutMs);
        break;
      case 'close':
        for (const client of [...clients, ...stuckClients]) client.close();
        for (const channel of channels) channel.close();
        clients.length = 0;
        stuckClients.length = 0;
        channels.length = 0;
        send({ ev: 'closed' });
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) main();
