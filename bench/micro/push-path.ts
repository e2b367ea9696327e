// Micro-benchmark of the per-stream push work inside one process, without gRPC: N streams
// subscribed as the load generator subscribes (LDS/RDS svc-0, CDS and EDS svc-0, svc-0/v1,
// svc-0/v2), then one instance of svc-0 added and removed 400 times; each time every stream
// plans and builds its responses (StreamState.handleSnapshot) and they are encoded, then every
// stream ACKs. Prints the median µs per stream of each half.
//   npx tsx bench/micro/push-path.ts [streams]
import { AliasEncodings, diffSnapshots, Snapshot } from '../../src/cache/snapshot';
import type { DiscoveryRequest__Output } from '../../src/generated/envoy/service/discovery/v3/DiscoveryRequest';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type XdsType } from '../../src/proto/xds-types';
import { encodeDiscoveryResponse, type OutgoingResponse } from '../../src/server/ads-service';
import { StreamState } from '../../src/server/stream-state';
import { translateForGrpc } from '../../src/translate/grpc/translate';
import { catalogOf, type InstanceSpec } from '../../test/unit/fixtures';
import { median } from '../lib/stats';

const streamCount = Number(process.argv[2] ?? 1000);
const aliases = new AliasEncodings();
const base: InstanceSpec[] = [];
for (let s = 0; s < 100; s++)
  for (let i = 0; i < 10; i++)
    base.push({
      service: `svc-${s}`,
      id: `i${i}`,
      version: i % 2 ? 'v2' : 'v1',
      address: `10.0.${s}.${i}:80`,
    });
const extra: InstanceSpec = { service: 'svc-0', id: 'x', version: 'v1', address: '10.9.9.9:80' };
const without = Snapshot.encode(translateForGrpc(catalogOf(base)), aliases);
const withExtra = Snapshot.encode(translateForGrpc(catalogOf([...base, extra])), aliases);

const clusters = ['svc-0', 'svc-0/v1', 'svc-0/v2'];
const subscriptions = new Map<XdsType, string[]>([
  [LISTENER, ['svc-0']],
  [ROUTE, ['svc-0']],
  [CLUSTER, clusters],
  [ENDPOINT, clusters],
]);
const request = (type: XdsType, reply?: OutgoingResponse): DiscoveryRequest__Output => ({
  version_info: reply?.versionInfo ?? '',
  node: null,
  resource_names: subscriptions.get(type)!,
  type_url: type.typeUrl,
  response_nonce: reply?.nonce ?? '',
  error_detail: null,
  resource_locators: [],
});

const streams: StreamState[] = [];
for (let i = 0; i < streamCount; i++) {
  const stream = new StreamState(i, 'bench', 0);
  for (const type of subscriptions.keys())
    stream.handleRequest(request(type, stream.handleRequest(request(type), without).response), without);
  streams.push(stream);
}

const pushUs: number[] = [];
const ackUs: number[] = [];
let current = without;
for (let round = 0; round < 400; round++) {
  const next = current === without ? withExtra : without;
  const changes = diffSnapshots(current, next);
  const started = performance.now();
  const sent = streams.map((stream) => {
    const responses = stream.handleSnapshot(next, changes, current);
    for (const response of responses) encodeDiscoveryResponse(response);
    return responses;
  });
  const pushed = performance.now();
  sent.forEach((responses, i) => {
    for (const response of responses) streams[i].handleRequest(request(response.type, response), next);
  });
  const acked = performance.now();
  if (sent.some((responses) => responses.length !== 1)) throw new Error('expected one EDS push per stream');
  pushUs.push(((pushed - started) * 1000) / streamCount);
  ackUs.push(((acked - pushed) * 1000) / streamCount);
  current = next;
}
// The first 100 changes warm the JIT up.
const settled = (values: number[]): string => median(values.slice(100)).toFixed(2);
console.log(`${streamCount} streams: push ${settled(pushUs)} µs a stream, ACK ${settled(ackUs)} µs a stream`);
