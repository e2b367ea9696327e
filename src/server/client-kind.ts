// Tells what an xDS client is from its Node message: its kind (for metrics and /debug) and the
// flavour of resources it must be served.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import type { Flavour } from '../translate/flavours';

export type ClientKind = 'envoy' | 'grpc-js' | 'grpc-c-core' | 'grpc-go' | 'grpc-java' | 'other';

export interface ClientProfile {
  readonly kind: ClientKind;
  readonly flavour: Flavour;
}

export function clientKind(node: Node__Output | null | undefined): ClientKind {
  const agent = (node?.user_agent_name ?? '').toLowerCase();
  if (agent === 'envoy') return 'envoy';
  if (agent.includes('node')) return 'grpc-js';
  if (agent.includes('c-core')) return 'grpc-c-core';
  if (agent.includes('go')) return 'grpc-go';
  if (agent.includes('java')) return 'grpc-java';
  return 'other';
}

/**
 * gRPC 1.50 and 1.51 (C-core 28 and 29) crash on the first pick through a ring_hash cluster
 * (grpc/grpc#31766, fixed in 1.52). C-core reports e.g. user_agent_name `gRPC C-core linux
 * Python` and user_agent_version `C-core 29.0.0 Python 1.51.1`; C++ reports its version alone.
 */
export function crashesOnRingHash(node: Node__Output | null | undefined): boolean {
  const name = node?.user_agent_name ?? '';
  const version = node?.user_agent_version ?? '';
  if (!name.includes('C-core')) return false;
  const core = /C-core (\d+)\.\d+\.\d+/.exec(version) ?? /C-core (\d+)\.\d+\.\d+/.exec(name);
  if (core !== null) return core[1] === '28' || core[1] === '29';
  return /^1\.5[01]\./.test(version);
}

export function clientProfile(node: Node__Output | null | undefined): ClientProfile {
  return { kind: clientKind(node), flavour: crashesOnRingHash(node) ? 'grpc-no-ring-hash' : 'grpc' };
}
