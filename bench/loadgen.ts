// The load generator: N lightweight simulated xDS clients on raw grpc-js ADS streams (state of
// the world). Each subscribes to LDS/RDS/CDS/EDS for one service as a proxyless gRPC client
// would, ACKs every response at once, and records when each EDS version arrived. It reads only
// the response fields a client needs to ACK (version_info, type_url, nonce) and skips the
// resources, so the generator spends little of the machine's two cores.
//
// Runs as a child process of bench/run.ts, driven over IPC (see LoadgenCommand).
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../src/proto/xds-types';
import { ADS_SERVICE, encodeDiscoveryRequest } from '../src/server/ads-service';

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

class SimulatedClient {
  private readonly call: grpc.ClientDuplexStream<Buffer, ResponseHead>;
  private readonly names: Map<string, string[]>;
  seenTypes = new Set<string>();
  edsVersion = '';
  markedAt: number | null = null;
  marked = false;
  responses = 0;
  lastResponseAt = 0;
  failed = false;

  constructor(
    client: grpc.Client,
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
    this.call = client.makeBidiStreamRequest(
      ADS_SERVICE.StreamAggregatedResources.path,
      (b: Buffer) => b,
      decodeHead,
    );
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
  const channels: grpc.Client[] = [];
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
            // A channel of its own (not shared through the global subchannel pool): one HTTP/2
            // connection per streamsPerChannel streams, as separate client processes would have.
            channels.push(
              new grpc.Client(command.target, grpc.credentials.createInsecure(), {
                'grpc.use_local_subchannel_pool': 1,
                'grpc.max_receive_message_length': 64 << 20,
              }),
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
