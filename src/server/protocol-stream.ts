// What the state-of-the-world and delta state machines share: the stream's identity, the node it
// identified as, its subscriptions by type, and its nonces.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import type { XdsType } from '../proto/xds-types';
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
      for (const canonical of subscription.canonical.keys()) yield [type, canonical];
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

  protected nextNonce(): string {
    return String(++this.nonceCounter);
  }
}
