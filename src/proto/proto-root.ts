// Loads the xDS protos once (protobufjs) and hands out message types for encoding and decoding.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { PROTO_FILES, PROTO_INCLUDE_DIRS } from './proto-files';

let root: protobuf.Root | undefined;

// protobufjs bundles the well-known types but not descriptor.proto, which the validate and udpa
// annotations import; register the copy protobufjs ships, as @grpc/proto-loader does.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const descriptorJson = require('protobufjs/google/protobuf/descriptor.json') as {
  nested: { google: { nested: { protobuf: { nested: protobuf.INamespace['nested'] } } } };
};
protobuf.common('descriptor', descriptorJson.nested.google.nested.protobuf.nested ?? {});

function resolveInIncludeDirs(origin: string, target: string): string {
  if (path.isAbsolute(target)) return target;
  for (const dir of PROTO_INCLUDE_DIRS) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  // protobufjs resolves google/protobuf/* itself from its bundled descriptors.
  return protobuf.util.path.resolve(origin, target);
}

/** The protobufjs root holding every message reachable from PROTO_FILES. */
export function protoRoot(): protobuf.Root {
  if (root === undefined) {
    const loaded = new protobuf.Root();
    loaded.resolvePath = resolveInIncludeDirs;
    loaded.loadSync([...PROTO_FILES], { keepCase: true });
    loaded.resolveAll();
    root = loaded;
  }
  return root;
}

const typeCache = new Map<string, protobuf.Type>();

/** A message type by its full name, e.g. `envoy.config.listener.v3.Listener`. */
export function messageType(fullName: string): protobuf.Type {
  let type = typeCache.get(fullName);
  if (type === undefined) {
    type = protoRoot().lookupType(fullName);
    typeCache.set(fullName, type);
  }
  return type;
}

/** `message` (in JSON form: enum names and the like) encoded as the message `messageName`. */
export function encodeFromObject(messageName: string, message: object): Uint8Array {
  const type = messageType(messageName);
  return type.encode(type.fromObject(message)).finish();
}

/** Options that make decoded objects match the generated `__Output` types. */
export const DECODE_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** A message as proto3-style JSON with every Any expanded (`@type`), for goldens and /debug. */
export function decodeToJson(messageName: string, bytes: Uint8Array): object {
  const type = messageType(messageName);
  return type.toObject(type.decode(bytes), { ...DECODE_OPTIONS, defaults: false, oneofs: false, json: true });
}
