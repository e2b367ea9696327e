// Tells what an xDS client is from its Node message: its kind (for metrics and /debug) and the
// flavour of resources it must be served.
import type { Node__Output } from '../generated/envoy/config/core/v3/Node';
import { callerLabels, type CallerLabels } from '../translate/caller-labels';
import { FLAVOURS, type Flavour } from '../translate/flavours';

export type ClientKind = 'envoy' | 'grpc-js' | 'grpc-c-core' | 'grpc-go' | 'grpc-java' | 'other';

export interface ClientProfile {
  readonly kind: ClientKind;
  readonly flavour: Flavour;
  /** Its caller labels (contract §7), from the node of its first request. */
  readonly labels: CallerLabels;
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

/**
 * grpc-go 1.73 (grpc/grpc-go#8253) and grpc-java 1.74 (grpc/grpc-java#12054, in 1.73.x from a
 * patch release) accept LEAST_REQUEST clusters by default; earlier releases only behind
 * GRPC_EXPERIMENTAL_ENABLE_LEAST_REQUEST, and reject them without it.
 */
export function handlesLeastRequest(kind: ClientKind, node: Node__Output | null | undefined): boolean {
  const minimum = kind === 'grpc-go' ? 73 : kind === 'grpc-java' ? 74 : undefined;
  if (minimum === undefined) return false;
  const version = /^(\d+)\.(\d+)\./.exec(node?.user_agent_version ?? '');
  return version !== null && (Number(version[1]) > 1 || Number(version[2]) >= minimum);
}

/** Node metadata key that names the flavour explicitly, overriding detection. */
export const FLAVOUR_METADATA_KEY = 'etcd-xds.flavour';

function flavourFromMetadata(node: Node__Output | null | undefined): Flavour | undefined {
  const value = node?.metadata?.fields?.[FLAVOUR_METADATA_KEY]?.stringValue;
  return value !== undefined && (FLAVOURS as readonly string[]).includes(value)
    ? (value as Flavour)
    : undefined;
}

/**
 * Which flavour a node is served: the one its metadata names (`etcd-xds.flavour`), else `envoy`
 * for Envoy (user_agent_name `envoy`), else `grpc-no-ring-hash` for gRPC clients that crash on
 * ring hash, else `grpc-c-core` for other C-core clients, else `grpc-least-request` for clients
 * that handle least request, else `grpc`.
 */
export function clientProfile(node: Node__Output | null | undefined): ClientProfile {
  const kind = clientKind(node);
  return {
    kind,
    flavour: flavourFromMetadata(node) ?? detectedFlavour(kind, node),
    labels: callerLabels(node),
  };
}

function detectedFlavour(kind: ClientKind, node: Node__Output | null | undefined): Flavour {
  if (kind === 'envoy') return 'envoy';
  if (crashesOnRingHash(node)) return 'grpc-no-ring-hash';
  if (kind === 'grpc-c-core') return 'grpc-c-core';
  return handlesLeastRequest(kind, node) ? 'grpc-least-request' : 'grpc';
}
