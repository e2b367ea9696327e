// Bare xDS clients over grpc-js, without any xDS library: they send requests exactly as told and
// hand back every response, for protocol-level tests. State of the world or delta, on ADS or on a
// per-type service (LDS, RDS, CDS, EDS); and a CSDS fetch.
import * as grpc from '@grpc/grpc-js';
import type { Node } from '../src/generated/envoy/config/core/v3/Node';
import type { DeltaDiscoveryRequest } from '../src/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DeltaDiscoveryResponse__Output } from '../src/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import type { DiscoveryRequest } from '../src/generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../src/generated/envoy/service/discovery/v3/DiscoveryResponse';
import type { ClientStatusRequest } from '../src/generated/envoy/service/status/v3/ClientStatusRequest';
import type { ClientStatusResponse__Output } from '../src/generated/envoy/service/status/v3/ClientStatusResponse';
import { CSDS_SERVICE } from '../src/admin/csds';
import { ADS_SERVICE, TYPED_SERVICES } from '../src/server/ads-service';
import { messageType } from '../src/proto/proto-root';
import { TYPE_URL_PREFIX, type XdsType } from '../src/proto/xds-types';

export type Service = 'ADS' | XdsType['short'];

function methodDefinition(service: Service, delta: boolean): grpc.MethodDefinition<object, unknown> {
  if (service === 'ADS') {
    return ADS_SERVICE[
      delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources'
    ] as grpc.MethodDefinition<object, unknown>;
  }
  const typed = TYPED_SERVICES.find((s) => s.type.short === service)!;
  return typed.definition[delta ? typed.delta : typed.sotw] as grpc.MethodDefinition<object, unknown>;
}

const DEFAULT_NODE: Node = { id: 'raw-client', user_agent_name: 'etcd-xds raw test client' };

class RawXdsClient<Request extends { node?: Node | null }, Response> {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Request, Response>;
  private readonly received: Response[] = [];
  private readonly waiters: ((response: Response) => void)[] = [];
  /** Resolves with the stream's final status. */
  readonly status: Promise<grpc.StatusObject>;
  private first = true;

  constructor(
    address: string,
    service: Service,
    delta: boolean,
    readonly node: Node,
    credentials: grpc.ChannelCredentials,
  ) {
    const definition = methodDefinition(service, delta);
    // Our definitions decode requests server-side; as a client we only need the other half.
    const Client = grpc.makeGenericClientConstructor({ method: definition }, 'RawXds');
    this.client = new Client(address, credentials);
    const method = (
      this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Request, Response>>
    ).method;
    this.call = method.call(this.client);
    this.call.on('data', (response: Response) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(response);
      else this.received.push(response);
    });
    this.status = new Promise((resolve) => this.call.on('status', resolve));
    this.call.on('error', () => undefined); // reported through `status`
  }

  /** Sends a request; the node goes on the first one only, as clients do. */
  send(request: Request): void {
    this.call.write(this.first ? { node: this.node, ...request } : request);
    this.first = false;
  }

  /** The next response, or an error after `timeoutMs`. */
  next(timeoutMs = 5_000): Promise<Response> {
    const buffered = this.received.shift();
    if (buffered) return Promise.resolve(buffered);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (response: Response): void => {
        clearTimeout(timer);
        resolve(response);
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves true if no response arrives within `ms` (a response that does arrive is kept). */
  async silentFor(ms: number): Promise<boolean> {
    try {
      const response = await this.next(ms);
      this.received.unshift(response);
      return false;
    } catch {
      return true;
    }
  }

  /**
   * Stops reading responses, as a client that hangs would (its connection still answers pings):
   * grpc-js then stops reading the HTTP/2 stream, and the server's flow-control window fills up.
   */
  pause(): void {
    this.call.pause();
  }

  resume(): void {
    this.call.resume();
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

/** A state-of-the-world client (ADS by default). */
export class RawAdsClient extends RawXdsClient<DiscoveryRequest, DiscoveryResponse__Output> {
  constructor(
    address: string,
    node: Node = DEFAULT_NODE,
    service: Service = 'ADS',
    credentials = grpc.credentials.createInsecure(),
  ) {
    super(address, service, false, node, credentials);
  }
}

/** Subscribes `client` to `names` of `type` and ACKs the first response; resolves to it. */
export async function subscribeAndAck(
  client: RawAdsClient,
  type: XdsType,
  names: string[],
): Promise<DiscoveryResponse__Output> {
  client.send({ type_url: type.typeUrl, resource_names: names });
  const response = await client.next();
  client.send({
    type_url: type.typeUrl,
    resource_names: names,
    response_nonce: response.nonce,
    version_info: response.version_info,
  });
  return response;
}

/**
 * Subscribes `client` to `names` of `typeUrl`, and rejects the first response with `message` (a
 * NACK, as a client that cannot use the config would); resolves to the rejected response.
 */
export async function refuseFirst(
  client: RawAdsClient,
  typeUrl: string,
  names: string[],
  message: string,
): Promise<DiscoveryResponse__Output> {
  client.send({ type_url: typeUrl, resource_names: names });
  const response = await client.next(10_000);
  client.send({
    type_url: typeUrl,
    resource_names: names,
    response_nonce: response.nonce,
    error_detail: { code: 3, message },
  });
  return response;
}

/** A delta (incremental) client (ADS by default). */
export class RawDeltaClient extends RawXdsClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output> {
  constructor(
    address: string,
    node: Node = DEFAULT_NODE,
    service: Service = 'ADS',
    credentials = grpc.credentials.createInsecure(),
  ) {
    super(address, service, true, node, credentials);
  }
}

/** CSDS FetchClientStatus. */
export async function fetchClientStatus(
  address: string,
  request: ClientStatusRequest = {},
): Promise<ClientStatusResponse__Output> {
  const Client = grpc.makeGenericClientConstructor(CSDS_SERVICE, 'Csds');
  const client = new Client(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    FetchClientStatus(
      request: ClientStatusRequest,
      callback: (error: grpc.ServiceError | null, response?: ClientStatusResponse__Output) => void,
    ): void;
  };
  try {
    return await new Promise((resolve, reject) =>
      client.FetchClientStatus(request, (error, response) => (error ? reject(error) : resolve(response!))),
    );
  } finally {
    client.close();
  }
}

/** The names of the resources in a response (Listener/RouteConfiguration/Cluster name, or cluster_name). */
export function resourceNames(response: { resources: { type_url: string; value: Buffer }[] }): string[] {
  return response.resources.map((any) => {
    const message = messageType(any.type_url.slice(TYPE_URL_PREFIX.length)).decode(any.value) as unknown as {
      name?: string;
      cluster_name?: string;
    };
    return message.name ?? message.cluster_name ?? '';
  });
}
