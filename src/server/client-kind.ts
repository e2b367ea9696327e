// Classifies an xDS client from its Node message, for metrics and for choosing what it is served.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';

export type ClientKind = 'envoy' | 'grpc-js' | 'grpc-c-core' | 'grpc-go' | 'grpc-java' | 'other';

export function clientKind(node: Node__Output | null | undefined): ClientKind {
  const agent = (node?.user_agent_name ?? '').toLowerCase();
  if (agent === 'envoy') return 'envoy';
  if (agent.includes('node')) return 'grpc-js';
  if (agent.includes('c-core')) return 'grpc-c-core';
  if (agent.includes('go')) return 'grpc-go';
  if (agent.includes('java')) return 'grpc-java';
  return 'other';
}
