#!/usr/bin/env node
// The demo client of the Kubernetes example overlay: a proxyless gRPC client (grpc-js-xds,
// bootstrap from GRPC_XDS_BOOTSTRAP) that calls xds:///<ECHO_SERVICE> once per ECHO_INTERVAL_MS
// with each value of ECHO_VERSIONS as the `version` header ("" = no header), and logs one JSON
// line per call saying which instance answered.
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { createEchoClient } from './echo';

const service = process.env.ECHO_SERVICE ?? 'echo';
const versions = (process.env.ECHO_VERSIONS ?? 'v1,v2,').split(',');
const intervalMs = Number(process.env.ECHO_INTERVAL_MS ?? '1000');
const calls = process.env.ECHO_CALLS === undefined ? Infinity : Number(process.env.ECHO_CALLS);

grpcXds.register();
const client = createEchoClient(`xds:///${service}`);

function call(version: string): Promise<Record<string, unknown>> {
  const metadata = new grpc.Metadata();
  if (version !== '') metadata.set('version', version);
  return new Promise((resolve) =>
    client.Who({ caller: 'echo-client' }, metadata, { deadline: Date.now() + 5_000 }, (error, reply) =>
      resolve(
        error
          ? { header: version || null, error: grpc.status[error.code], details: error.details }
          : { header: version || null, id: reply!.id, version: reply!.version, address: reply!.address },
      ),
    ),
  );
}

async function main(): Promise<void> {
  let stopping = false;
  process.once('SIGTERM', () => (stopping = true));
  process.once('SIGINT', () => (stopping = true));
  for (let n = 0; n < calls && !stopping; n++) {
    const outcome = await call(versions[n % versions.length]);
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...outcome })}\n`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  client.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`echo-client: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
