// A bare ADS client over grpc-js, without any xDS library: sends DiscoveryRequests exactly as
// told and hands back every DiscoveryResponse, for protocol-level tests.
import * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest } from '../src/generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../src/generated/envoy/service/discovery/v3/DiscoveryResponse';
import { ADS_SERVICE_NAME, decodeDiscoveryResponse, encodeDiscoveryRequest } from '../src/server/ads-service';

const AdsClient = grpc.makeGenericClientConstructor(
  {
    StreamAggregatedResources: {
      path: `/${ADS_SERVICE_NAME}/StreamAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: encodeDiscoveryRequest,
      requestDeserialize: () => {
        throw new Error('client only');
      },
      responseSerialize: () => {
        throw new Error('client only');
      },
      responseDeserialize: decodeDiscoveryResponse,
    },
  },
  'AggregatedDiscoveryService',
);

export class RawAdsClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;
  private readonly received: DiscoveryResponse__Output[] = [];
  private readonly waiters: ((response: DiscoveryResponse__Output) => void)[] = [];
  /** Resolves with the stream's final status. */
  readonly status: Promise<grpc.StatusObject>;

  constructor(
    address: string,
    readonly node: DiscoveryRequest['node'] = {
      id: 'raw-client',
      user_agent_name: 'etcd-xds raw test client',
    },
  ) {
    this.client = new AdsClient(address, grpc.credentials.createInsecure());
    const method = (
      this.client as unknown as Record<
        string,
        () => grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>
      >
    ).StreamAggregatedResources;
    this.call = method.call(this.client);
    this.call.on('data', (response: DiscoveryResponse__Output) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(response);
      else this.received.push(response);
    });
    this.status = new Promise((resolve) => this.call.on('status', resolve));
    this.call.on('error', () => undefined); // reported through `status`
  }

  send(request: DiscoveryRequest): void {
    this.call.write({ node: this.node, ...request });
  }

  /** The next response, or an error after `timeoutMs`. */
  next(timeoutMs = 5_000): Promise<DiscoveryResponse__Output> {
    const buffered = this.received.shift();
    if (buffered) return Promise.resolve(buffered);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`no DiscoveryResponse within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (response: DiscoveryResponse__Output): void => {
        clearTimeout(timer);
        resolve(response);
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves true if no response arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}
