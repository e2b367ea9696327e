// A proxyless gRPC client (@grpc/grpc-js + @grpc/grpc-js-xds) driven over stdin/stdout, one JSON
// request per line: {"id", "target", "metadata", "method", "count", "deadlineMs"} → {"id", "results"}.
// It reads its bootstrap from GRPC_XDS_BOOTSTRAP like any real application.
import * as readline from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { createEchoClient, echoMethod } from '../echo-backend';

grpcXds.register();

interface CallRequest {
  id: number;
  target: string;
  metadata?: Record<string, string>;
  method?: string;
  count?: number;
  /** All `count` calls at once instead of one after the other. */
  concurrent?: boolean;
  deadlineMs?: number;
}

type CallResult =
  { ok: true; id: string; version: string; address: string } | { ok: false; code: number; details: string };

/** Calls made all at once are started this far apart. */
const STAGGER_MS = 20;

const clients = new Map<string, ReturnType<typeof createEchoClient>>();

function call(request: CallRequest): Promise<CallResult> {
  let client = clients.get(request.target);
  if (client === undefined) {
    client = createEchoClient(request.target);
    clients.set(request.target, client);
  }
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(request.metadata ?? {})) metadata.set(key, value);
  const deadline = Date.now() + (request.deadlineMs ?? 5_000);
  const method = echoMethod(client, request.method);
  if (method === undefined)
    return Promise.resolve({ ok: false, code: 12, details: `no such Echo method ${request.method}` });
  return new Promise((resolve) => {
    method({ caller: 'node' }, metadata, { deadline }, (error, reply) => {
      if (error) resolve({ ok: false, code: error.code, details: error.details });
      else resolve({ ok: true, id: reply!.id, version: reply!.version, address: reply!.address });
    });
  });
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const request = JSON.parse(line) as CallRequest;
  void (async () => {
    const count = request.count ?? 1;
    const results: CallResult[] = [];
    if (request.concurrent === true) {
      // Started 20 ms apart, so each sees the ones before it in flight.
      const calls: Promise<CallResult>[] = [];
      for (let i = 0; i < count; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, STAGGER_MS));
        calls.push(call(request));
      }
      results.push(...(await Promise.all(calls)));
    } else for (let i = 0; i < count; i++) results.push(await call(request));
    process.stdout.write(`${JSON.stringify({ id: request.id, results })}\n`);
  })();
});
lines.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: true, client: 'grpc-js', version: grpcVersion() })}\n`);

function grpcVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@grpc/grpc-js-xds/package.json') as { version: string }).version;
}
