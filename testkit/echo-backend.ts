// A real gRPC backend for the demo and tests on 127.0.0.1: answers Echo/Who with which instance it
// is, and misbehaves on command (slow, failing a share of calls, failing every other attempt) so
// resilience policies can be tested against real failures.
import * as grpc from '@grpc/grpc-js';
import { startEchoServer, type EchoIdentity, type EchoServer } from '../src/demo/echo';

export { createEchoClient, echoMethod } from '../src/demo/echo';

export interface Misbehaviour {
  /** Answer every call this much later. */
  readonly delayMs?: number;
  /** Fail this share of calls (0–1) with `code`, picked at random. */
  readonly failFraction?: number;
  /**
   * Fail the 1st, 3rd, 5th… call it receives with `code`: with sequential calls to this one
   * instance, each call's first attempt fails and a retry of it succeeds.
   */
  readonly failEveryOther?: boolean;
  /** The status failures carry (default UNAVAILABLE). */
  readonly code?: grpc.status;
}

export interface EchoBackend extends EchoServer {
  /** Calls (attempts, when clients retry) received since start or the last `misbehave`. */
  readonly received: number;
  /** Calls failed on purpose since then. */
  readonly failed: number;
  /** Switches how the backend answers from now on (and resets the counts); {} behaves. */
  misbehave(how: Misbehaviour): void;
}

export async function startEchoBackend(identity: EchoIdentity): Promise<EchoBackend> {
  let how: Misbehaviour = {};
  let received = 0;
  let failed = 0;
  const server = await startEchoServer(identity, { host: '127.0.0.1', port: 0 }, async () => {
    const n = received++;
    if (how.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, how.delayMs));
    const fail =
      (how.failEveryOther === true && n % 2 === 0) ||
      (how.failFraction !== undefined && Math.random() < how.failFraction);
    if (!fail) return undefined;
    failed++;
    return { code: how.code ?? grpc.status.UNAVAILABLE, details: `${identity.id} fails on purpose` };
  });
  return {
    address: server.address,
    port: server.port,
    stop: (graceMs) => server.stop(graceMs),
    get received() {
      return received;
    },
    get failed() {
      return failed;
    },
    misbehave(next: Misbehaviour) {
      how = next;
      received = 0;
      failed = 0;
    },
  };
}
