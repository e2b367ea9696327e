// A resource encoded once: its bytes, its Any wrapper (shared by every stream), and a version
// that is a hash of its content, so every replica gives the same resource the same version.
import { hash } from 'node:crypto';
import { Writer } from 'protobufjs';
import { messageType } from '../proto/proto-root';
import { ByteWriter, delimitedFieldSize, varintSize } from '../proto/wire';
import { ENDPOINT, LISTENER, ROUTE, type XdsType } from '../proto/xds-types';
import { BuiltOnRead, type Resource } from '../translate/resource-set';

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

/**
 * `bytes` is made from `any` when asked (admin views and explain ask; pushes send `any`), so a
 * snapshot of a million resources does not hold a million more Buffer objects.
 */
class Encoded implements EncodedResource {
  constructor(
    readonly name: string,
    readonly type: XdsType,
    readonly version: string,
    readonly any: Uint8Array,
    private readonly valueOffset: number,
  ) {}

  get bytes(): Uint8Array {
    return this.any.subarray(this.valueOffset);
  }
}

/** Encodes a resource, once per Resource object (translation shares unchanged ones). */
export function encodeResource(resource: Resource): EncodedResource {
  if (resource instanceof BuiltOnRead) {
    if (resource.derived instanceof Encoded) return resource.derived;
    return (resource.derived = encode(resource));
  }
  let encoded = encodings.get(resource);
  if (encoded === undefined) encodings.set(resource, (encoded = encode(resource)));
  return encoded;
}

function encode(resource: Resource): Encoded {
  const { any, offset } = encodeAsAny(resource);
  return new Encoded(resource.name, resource.type, contentVersion(any.subarray(offset)), any, offset);
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
 * buffer; the value starts at `offset` inside it (no second encoding or copy).
 */
function encodeAsAny(resource: Resource): { any: Uint8Array; offset: number } {
  if (resource instanceof BuiltOnRead && resource.encodeMessage !== undefined)
    return wrapInAny(resource.type.typeUrl, resource.encodeMessage());
  const type = messageType(resource.type.messageName);
  const writer = Writer.create().uint32(10).string(resource.type.typeUrl).uint32(18).fork();
  type.encode(
    ENCODED_AS_BUILT.has(resource.type) ? resource.message : type.fromObject(resource.message),
    writer,
  );
  const any = writer.ldelim().finish();
  // Skip the type_url field (tag, length, ASCII URL), the value's tag, and its length varint.
  let offset = delimitedFieldSize(resource.type.typeUrl.length) + 1;
  while ((any[offset] & 0x80) !== 0) offset++;
  return { any, offset: offset + 1 };
}

/** `value` (an encoded message) in a google.protobuf.Any of `typeUrl` (ASCII), as protobufjs writes it. */
function wrapInAny(typeUrl: string, value: Uint8Array): { any: Uint8Array; offset: number } {
  const head = delimitedFieldSize(typeUrl.length) + 1 + varintSize(value.length);
  const out = new ByteWriter(head + value.length);
  out.tag(10).varint(typeUrl.length).string(typeUrl, typeUrl.length).tag(18).varint(value.length);
  return { any: out.bytes(value).finish(), offset: head };
}
