// A TCP proxy standing in for a Kubernetes Service in front of several etcd-xds replicas: each new
// connection goes to the first target that accepts it.
import * as net from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private targets: readonly number[],
  ) {}

  static async start(targets: readonly number[]): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, targets);
    server.on('connection', (socket) => proxy.forward(socket));
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Replaces the targets (ports on 127.0.0.1), in order of preference. */
  setTargets(targets: readonly number[]): void {
    this.targets = targets;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: net.Socket, attempt = 0): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (attempt >= this.targets.length) {
      client.destroy();
      return;
    }
    client.pause();
    const upstream = net.connect(this.targets[attempt], '127.0.0.1');
    upstream.once('connect', () => {
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      upstream.destroy();
      if (error.code === 'ECONNREFUSED' && !upstream.readyState.startsWith('open'))
        this.forward(client, attempt + 1);
      else client.destroy();
    });
  }
}
