// Free loopback ports for throwaway servers.
import * as net from 'node:net';

/** Ports this process has handed out: the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A loopback port nothing listens on now, never one this process was given before (two calls in
 * a row could otherwise return the same port: an Envoy's admin port and the listener it is sent).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probe();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
