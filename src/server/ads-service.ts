// The xDS gRPC service definitions (ADS and the per-type services, state of the world and
// delta), with serializers that put the shared, pre-encoded bytes of each resource on the wire
// instead of re-encoding resources per stream.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { Writer } from 'protobufjs';
import type { DeltaDiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DeltaDiscoveryResponse__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../generated/envoy/service/discovery/v3/DiscoveryResponse';
import { DECODE_OPTIONS, encodeFromObject, messageType } from '../proto/proto-root';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type XdsType } from '../proto/xds-types';
import type { EncodedResource } from '../cache/encoded-resource';
import type { OutgoingDeltaResponse } from './delta-stream-state';

/** A response as the server builds it: resources by reference, encoded at write time. */
export interface OutgoingResponse {
  readonly type: XdsType;
  readonly versionInfo: string;
  readonly nonce: string;
  readonly resources: readonly EncodedResource[];
}

export const CONTROL_PLANE_ID = 'etcd-xds';

// ControlPlane { identifier = 1 } — the same on every replica.
const CONTROL_PLANE_BYTES = Writer.create().uint32(10).string(CONTROL_PLANE_ID).finish();

/** DiscoveryResponse { version_info = 1; resources = 2; type_url = 4; nonce = 5; control_plane = 6 } */
function encodeResponse(response: OutgoingResponse): Buffer {
  const writer = Writer.create();
  if (response.versionInfo !== '') writer.uint32(10).string(response.versionInfo);
  for (const resource of response.resources) writer.uint32(18).bytes(resource.any);
  writer.uint32(34).string(response.type.typeUrl);
  writer.uint32(42).string(response.nonce);
  writer.uint32(50).bytes(CONTROL_PLANE_BYTES);
  const bytes = writer.finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encodings of push responses (nonce `p<serial>.…`): the streams a push sends the same resources
 * share one response object (see StreamState), so it is encoded once, not once per stream.
 */
const pushEncodings = new WeakMap<OutgoingResponse, Buffer>();

export function encodeDiscoveryResponse(response: OutgoingResponse): Buffer {
  if (!response.nonce.startsWith('p')) return encodeResponse(response);
  let bytes = pushEncodings.get(response);
  if (bytes === undefined) {
    bytes = encodeResponse(response);
    pushEncodings.set(response, bytes);
  }
  return bytes;
}

const deltaResources = new WeakMap<EncodedResource, Uint8Array>();

/** Resource { version = 1; resource = 2; name = 3 }, encoded once per resource version. */
function deltaResourceBytes(resource: EncodedResource): Uint8Array {
  let bytes = deltaResources.get(resource);
  if (bytes === undefined) {
    bytes = Writer.create()
      .uint32(10)
      .string(resource.version)
      .uint32(18)
      .bytes(resource.any)
      .uint32(26)
      .string(resource.name)
      .finish();
    deltaResources.set(resource, bytes);
  }
  return bytes;
}

/**
 * DeltaDiscoveryResponse { system_version_info = 1; resources = 2; type_url = 4; nonce = 5;
 * removed_resources = 6; control_plane = 7 }
 */
export function encodeDeltaDiscoveryResponse(response: OutgoingDeltaResponse): Buffer {
  const writer = Writer.create();
  if (response.systemVersionInfo !== '') writer.uint32(10).string(response.systemVersionInfo);
  for (const resource of response.resources) writer.uint32(18).bytes(deltaResourceBytes(resource));
  writer.uint32(34).string(response.type.typeUrl);
  writer.uint32(42).string(response.nonce);
  for (const name of response.removed) writer.uint32(50).string(name);
  writer.uint32(58).bytes(CONTROL_PLANE_BYTES);
  return Buffer.from(writer.finish());
}

function decoder<T>(messageName: string): (bytes: Buffer) => T {
  return (bytes) => {
    const type = messageType(messageName);
    return type.toObject(type.decode(bytes), DECODE_OPTIONS) as T;
  };
}

function encoder(messageName: string): (message: object) => Buffer {
  return (message) => Buffer.from(encodeFromObject(messageName, message));
}

export const decodeDiscoveryRequest = decoder<DiscoveryRequest__Output>(
  'envoy.service.discovery.v3.DiscoveryRequest',
);
export const decodeDiscoveryResponse = decoder<DiscoveryResponse__Output>(
  'envoy.service.discovery.v3.DiscoveryResponse',
);
export const encodeDiscoveryRequest = encoder('envoy.service.discovery.v3.DiscoveryRequest');
export const decodeDeltaDiscoveryRequest = decoder<DeltaDiscoveryRequest__Output>(
  'envoy.service.discovery.v3.DeltaDiscoveryRequest',
);
export const decodeDeltaDiscoveryResponse = decoder<DeltaDiscoveryResponse__Output>(
  'envoy.service.discovery.v3.DeltaDiscoveryResponse',
);
export const encodeDeltaDiscoveryRequest = encoder('envoy.service.discovery.v3.DeltaDiscoveryRequest');

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

const sotwMethod = (path: string) => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: encodeDiscoveryRequest,
  requestDeserialize: decodeDiscoveryRequest,
  responseSerialize: encodeDiscoveryResponse,
  responseDeserialize: decodeDiscoveryResponse,
});

const deltaMethod = (path: string) => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: encodeDeltaDiscoveryRequest,
  requestDeserialize: decodeDeltaDiscoveryRequest,
  responseSerialize: encodeDeltaDiscoveryResponse,
  responseDeserialize: decodeDeltaDiscoveryResponse,
});

export const ADS_SERVICE: ServiceDefinition = {
  StreamAggregatedResources: sotwMethod(`/${ADS_SERVICE_NAME}/StreamAggregatedResources`),
  DeltaAggregatedResources: deltaMethod(`/${ADS_SERVICE_NAME}/DeltaAggregatedResources`),
};

/** A per-type discovery service (LDS, RDS, CDS, EDS) for clients that do not use ADS. */
export interface TypedService {
  readonly type: XdsType;
  readonly definition: ServiceDefinition;
  readonly sotw: string;
  readonly delta: string;
}

function typedService(type: XdsType, service: string, noun: string): TypedService {
  const sotw = `Stream${noun}`;
  const delta = `Delta${noun}`;
  return {
    type,
    sotw,
    delta,
    definition: { [sotw]: sotwMethod(`/${service}/${sotw}`), [delta]: deltaMethod(`/${service}/${delta}`) },
  };
}

export const TYPED_SERVICES: readonly TypedService[] = [
  typedService(LISTENER, 'envoy.service.listener.v3.ListenerDiscoveryService', 'Listeners'),
  typedService(ROUTE, 'envoy.service.route.v3.RouteDiscoveryService', 'Routes'),
  typedService(CLUSTER, 'envoy.service.cluster.v3.ClusterDiscoveryService', 'Clusters'),
  typedService(ENDPOINT, 'envoy.service.endpoint.v3.EndpointDiscoveryService', 'Endpoints'),
];
