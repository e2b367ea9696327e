// A client's caller labels (contract §7): what it says about itself in its xDS node, which caller
// routes of a policy match on. Read from the stream's first request; fixed for the stream's life.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import { compareStrings } from '../stable-order';

export type CallerLabels = ReadonlyMap<string, string>;

/**
 * The string-valued top-level fields of the node's metadata, plus `zone` from its locality when
 * set (which wins over a metadata `zone`); sorted by key.
 */
export function callerLabels(node: Node__Output | null | undefined): CallerLabels {
  const labels = new Map<string, string>();
  for (const [key, value] of Object.entries(node?.metadata?.fields ?? {})) {
    if (value?.kind === 'stringValue' && typeof value.stringValue === 'string')
      labels.set(key, value.stringValue);
  }
  const zone = node?.locality?.zone;
  if (zone !== undefined && zone !== '') labels.set('zone', zone);
  return new Map([...labels].sort(([a], [b]) => compareStrings(a, b)));
}
