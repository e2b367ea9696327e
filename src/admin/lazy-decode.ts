// Encoded resources as JSON for /debug views, decoded a piece at a time when they are big: Envoy's
// route configuration at 10,000 services, or the endpoints of a service with 10,000 instances,
// would each take the event loop for a long while if decoded at once. The JSON is the same as
// decodeToJson's; only when the work is done differs.
import * as protobuf from 'protobufjs';
import { messageType } from '../proto/proto-root';
import { LazyObject, lazyMap } from './json-stream';

/** Messages smaller than this are decoded at once (well under a millisecond). */
const LAZY_BYTES = 32 * 1024;

/** The options of decodeToJson: proto3 JSON with every Any expanded. */
const JSON_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
  json: true,
};

/** A message as JSON, with the repeated message fields of big messages decoded element by element. */
export function messageJson(messageName: string, bytes: Uint8Array): unknown {
  return decodeLazily(messageType(messageName), bytes);
}

function decodeLazily(type: protobuf.Type, bytes: Uint8Array): unknown {
  if (bytes.length < LAZY_BYTES) return type.toObject(type.decode(bytes), JSON_OPTIONS);
  // Split the message: elements of repeated message fields apart, every other field in a head.
  const elements = new Map<number, Uint8Array[]>();
  const head: Uint8Array[] = [];
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const field = type.fieldsById[tag >>> 3] as protobuf.Field | undefined;
    if (
      field !== undefined &&
      field.repeated &&
      (tag & 7) === 2 &&
      field.resolve().resolvedType instanceof protobuf.Type
    ) {
      const length = reader.uint32();
      const element = bytes.subarray(reader.pos, reader.pos + length);
      reader.pos += length;
      const list = elements.get(field.id) ?? [];
      list.push(element);
      elements.set(field.id, list);
    } else {
      reader.skipType(tag & 7);
      head.push(bytes.subarray(start, reader.pos));
    }
  }
  if (elements.size === 0) return type.toObject(type.decode(bytes), JSON_OPTIONS);
  const decodedHead = type.toObject(type.decode(Buffer.concat(head)), JSON_OPTIONS) as Record<
    string,
    unknown
  >;
  // toObject writes the fields present in the order of their numbers; so does this.
  const fields = [...type.fieldsArray].sort((a, b) => a.id - b.id);
  return new LazyObject(
    (function* () {
      for (const field of fields) {
        const list = elements.get(field.id);
        if (list !== undefined) {
          const elementType = field.resolvedType as protobuf.Type;
          yield [field.name, lazyMap(list, (element) => decodeLazily(elementType, element))];
        } else if (field.name in decodedHead) {
          yield [field.name, decodedHead[field.name]];
        }
      }
    })(),
  );
}
