// What the state-of-the-world and delta state machines share: the stream's identity, the node it
// identified as, its subscriptions by type, and its nonces.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import { xdsTypeByUrl, type XdsType } from '../proto/xds-types';
import { TypeSubscription } from './type-subscription';

export abstract class ProtocolStream {
  node: Node__Output | null = null;
  readonly subscriptions = new Map<XdsType, TypeSubscription>();
  private nonceCounter = 0;

  constructor(
    readonly id: number,
    readonly peer: string,
    readonly connectedAt: number,
    protected readonly now: () => number = Date.now,
  ) {}

  /** Every canonical name this stream subscribes to, by type (for indexing). */
  *subscribedNames(): Iterable<[XdsType, string]> {
    for (const [type, subscription] of this.subscriptions) {
      for (const canonical of subscription.canonicalNames()) yield [type, canonical];
    }
  }

  /** Clients send their node on the first request (often only there). */
  protected rememberNode(node: Node__Output | null): void {
    if (node !== null && this.node === null) this.node = node;
  }

  protected subscriptionFor(type: XdsType): { subscription: TypeSubscription; created: boolean } {
    const existing = this.subscriptions.get(type);
    if (existing !== undefined) return { subscription: existing, created: false };
    const subscription = new TypeSubscription(type);
    this.subscriptions.set(type, subscription);
    return { subscription, created: true };
  }

  /**
   * The subscription a request acknowledges, if it is an ACK (no error) of the latest response
   * of its type; undefined for anything else.
   */
  protected acknowledgedSubscription(request: {
    readonly type_url: string;
    readonly response_nonce: string;
    readonly error_detail: unknown;
  }): TypeSubscription | undefined {
    const type = xdsTypeByUrl(request.type_url);
    const subscription = type === undefined ? undefined : this.subscriptions.get(type);
    const latest =
      subscription !== undefined &&
      request.error_detail === null &&
      request.response_nonce !== '' &&
      request.response_nonce === subscription.lastNonce;
    return latest ? subscription : undefined;
  }

  protected nextNonce(): string {
    return String(++this.nonceCounter);
  }
}
