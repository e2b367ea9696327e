// A real gRPC backend for the demo and tests on 127.0.0.1: answers Echo/Who with which instance it is.
import { startEchoServer, type EchoIdentity, type EchoServer } from '../src/demo/echo';

export { createEchoClient, echoMethod } from '../src/demo/echo';

export type EchoBackend = EchoServer;

export function startEchoBackend(identity: EchoIdentity): Promise<EchoBackend> {
  return startEchoServer(identity, { host: '127.0.0.1', port: 0 });
}
