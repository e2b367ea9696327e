// A resource encoded once: its bytes, its Any wrapper (shared by every stream), and a version
// that is a hash of its content, so every replica gives the same resource the same version.
import { hash } from 'node:crypto';
import { Writer } from 'protobufjs';
import { messageType } from '../proto/proto-root';
import { ENDPOINT, LISTENER, ROUTE, type XdsType } from '../proto/xds-types';
import type { Resource } from '../translate/resource-set';

export interface EncodedResource {
  readonly name: string;
  readonly type: XdsType;
  /** 16 hex digits of the SHA-256 of `bytes`. */
  readonly version: string;
  /** The encoded resource message. */
  readonly bytes: Uint8Array;
  /** The encoded google.protobuf.Any holding the resource, as state-of-the-world responses carry it. */
  readonly any: Uint8Array;
}

const encodings = new WeakMap<Resource, EncodedResource>();

/** Encodes a resource, once per Resource object (translation shares unchanged ones). */
export function encodeResource(resource: Resource): EncodedResource {
  let encoded = encodings.get(resource);
  if (encoded === undefined) {
    const { any, bytes } = encodeAsAny(resource);
    encoded = { name: resource.name, type: resource.type, version: contentVersion(bytes), bytes, any };
    encodings.set(resource, encoded);
  }
  return encoded;
}

export function contentVersion(bytes: Uint8Array | string): string {
  // One-shot hash: no Hash object per resource (a fifth of encoding time at 100k resources).
  return hash('sha256', bytes, 'hex').slice(0, 16);
}

/**
 * Types whose resources the translation builds ready to encode, so fromObject is skipped (a third
 * of their encoding time): endpoints in protobufjs's runtime form (translate/endpoint-encoding.ts),
 * listeners and route configurations with no enum names or JSON-form values in them (nested
 * typed_config is already packed). Unit-tested: for every shape the translation makes, in every
 * flavour, the bytes equal those through fromObject. Clusters carry enum names (lb_policy, …) and
 * go through fromObject.
 */
const ENCODED_AS_BUILT: ReadonlySet<XdsType> = new Set([ENDPOINT, LISTENER, ROUTE]);

/**
 * Encodes the resource straight into a google.protobuf.Any { type_url = 1; value = 2; }, in one
 * buffer; `bytes` is a view of the value inside it (no second encoding or copy).
 */
function encodeAsAny(resource: Resource): { any: Uint8Array; bytes: Uint8Array } {
  const type = messageType(resource.type.messageName);
  const writer = Writer.create().uint32(10).string(resource.type.typeUrl).uint32(18).fork();
  type.encode(
    ENCODED_AS_BUILT.has(resource.type) ? resource.message : type.fromObject(resource.message),
    writer,
  );
  const any = writer.ldelim().finish();
  // Skip the type_url field (tag, length, ASCII URL), the value's tag, and its length varint.
  let offset = 1 + varintLength(resource.type.typeUrl.length) + resource.type.typeUrl.length + 1;
  while ((any[offset] & 0x80) !== 0) offset++;
  return { any, bytes: any.subarray(offset + 1) };
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value >>>= 7;
    length++;
  }
  return length;
}
