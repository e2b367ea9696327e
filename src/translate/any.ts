// Packs a message into google.protobuf.Any, for typed_config fields inside resources.
import type { Any } from '../generated/google/protobuf/Any';
import { encodeFromObject } from '../proto/proto-root';
import { TYPE_URL_PREFIX } from '../proto/xds-types';

export function packAny(messageName: string, message: object): Any {
  return {
    type_url: TYPE_URL_PREFIX + messageName,
    value: Buffer.from(encodeFromObject(messageName, message)),
  };
}
