// The transport floor: a trivial grpc-js ADS server that answers each subscribed type once with
// a minimal response and, when told, writes one given DiscoveryResponse (the same bytes for every
// stream, no per-stream work, no etcd, no translation) to every open stream. What etcd-xds does
// on top of this — watching etcd, translating, per-stream bookkeeping, nonces — is what the
// benchmark's ratio measures.
//
// Runs as a child process of bench/run.ts: IPC {cmd:'listen'} → {ev:'listening', port};
// {cmd:'push', bytes (base64)} → {ev:'pushed', streams}.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { messageType } from '../src/proto/proto-root';
import { ADS_SERVICE } from '../src/server/ads-service';

type FloorCommand = { cmd: 'listen' } | { cmd: 'push'; bytes: string };

const responseType = messageType('envoy.service.discovery.v3.DiscoveryResponse');

/** The type_url of a DiscoveryRequest (field 4), without decoding the rest. */
function requestTypeUrl(buffer: Buffer): string {
  const reader = protobuf.Reader.create(buffer);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 4) return reader.string();
    reader.skipType(tag & 7);
  }
  return '';
}

function main(): void {
  const streams = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 << 20 });
  server.addService(
    {
      StreamAggregatedResources: {
        path: ADS_SERVICE.StreamAggregatedResources.path,
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        streams.add(call);
        const answered = new Set<string>();
        call.on('data', (request: Buffer) => {
          const typeUrl = requestTypeUrl(request);
          if (answered.has(typeUrl)) return; // an ACK
          answered.add(typeUrl);
          call.write(
            Buffer.from(
              responseType
                .encode(responseType.fromObject({ version_info: '0', type_url: typeUrl, nonce: '0' }))
                .finish(),
            ),
          );
        });
        const end = (): void => void streams.delete(call);
        call.on('error', end);
        call.on('end', () => {
          end();
          call.end();
        });
        call.on('cancelled', end);
      },
    },
  );

  process.on('message', (command: FloorCommand) => {
    if (command.cmd === 'listen') {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
        if (error) process.send!({ ev: 'error', message: error.message });
        else process.send!({ ev: 'listening', port });
      });
    } else if (command.cmd === 'push') {
      const bytes = Buffer.from(command.bytes, 'base64');
      for (const stream of streams) stream.write(bytes);
      process.send!({ ev: 'pushed', streams: streams.size });
    }
  });
  process.on('disconnect', () => {
    server.forceShutdown();
    process.exit(0);
  });
}

if (require.main === module) main();
