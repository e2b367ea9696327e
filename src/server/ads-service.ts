// The ADS gRPC service definition, with serializers that put the shared, pre-encoded Any bytes
// of each resource on the wire instead of re-encoding resources per stream.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { Writer } from 'protobufjs';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../generated/envoy/service/discovery/v3/DiscoveryResponse';
import { DECODE_OPTIONS, messageType } from '../proto/proto-root';
import type { XdsType } from '../proto/xds-types';
import type { EncodedResource } from '../cache/encoded-resource';

/** A response as the server builds it: resources by reference, encoded at write time. */
export interface OutgoingResponse {
  readonly type: XdsType;
  readonly versionInfo: string;
  readonly nonce: string;
  readonly resources: readonly EncodedResource[];
}

export const CONTROL_PLANE_ID = 'etcd-xds';

const DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DiscoveryRequest';
const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';

// ControlPlane { identifier = 1 } — the same on every replica.
const CONTROL_PLANE_BYTES = Writer.create().uint32(10).string(CONTROL_PLANE_ID).finish();

/** DiscoveryResponse { version_info = 1; resources = 2; type_url = 4; nonce = 5; control_plane = 6 } */
export function encodeDiscoveryResponse(response: OutgoingResponse): Buffer {
  const writer = Writer.create();
  if (response.versionInfo !== '') writer.uint32(10).string(response.versionInfo);
  for (const resource of response.resources) writer.uint32(18).bytes(resource.any);
  writer.uint32(34).string(response.type.typeUrl);
  writer.uint32(42).string(response.nonce);
  writer.uint32(50).bytes(CONTROL_PLANE_BYTES);
  return Buffer.from(writer.finish());
}

export function decodeDiscoveryRequest(bytes: Buffer): DiscoveryRequest__Output {
  const type = messageType(DISCOVERY_REQUEST);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as DiscoveryRequest__Output;
}

export function encodeDiscoveryRequest(request: object): Buffer {
  const type = messageType(DISCOVERY_REQUEST);
  return Buffer.from(type.encode(type.fromObject(request)).finish());
}

export function decodeDiscoveryResponse(bytes: Buffer): DiscoveryResponse__Output {
  const type = messageType(DISCOVERY_RESPONSE);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as DiscoveryResponse__Output;
}

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

export const ADS_SERVICE: ServiceDefinition = {
  StreamAggregatedResources: {
    path: `/${ADS_SERVICE_NAME}/StreamAggregatedResources`,
    requestStream: true,
    responseStream: true,
    requestSerialize: encodeDiscoveryRequest,
    requestDeserialize: decodeDiscoveryRequest,
    responseSerialize: encodeDiscoveryResponse,
    responseDeserialize: decodeDiscoveryResponse,
  },
};
