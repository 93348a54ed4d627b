import { AddressInfo, createServer, connect, Server, Socket } from 'node:net';

/**
 * A loopback TCP proxy a test puts between a client and a real server, to make the server
 * "stop answering" in the two ways a network does: the connection is cut (sockets reset, new
 * connections refused) or it goes silent (connections accepted, nothing delivered either way).
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  /** The proxy's own connections to the server. */
  private readonly upstreams = new Set<Socket>();
  private server?: Server;
  private silent = false;
  private replyToLose: (() => void) | null = null;
  private dropListeners: Array<() => void> = [];

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    private listenPort: number,
  ) {}

  /** Listens on a free loopback port (or `port`) and forwards to `host:port`. */
  static async start(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(target.host, target.port, port);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  /** Resets every connection and refuses new ones until `restore()`. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Refuses new connections until `restore()`, and leaves the open ones alone. */
  refuseNew(): void {
    // Not listening any more from here on; its callback would wait for the open connections.
    this.server?.close();
    this.server = undefined;
  }

  /**
   * The local ports of the proxy's open connections to the server: how the server tells them
   * apart from its other clients (`addr` in Redis's CLIENT LIST).
   */
  serverSidePorts(): number[] {
    return [...this.upstreams].flatMap((socket) =>
      socket.localPort === undefined ? [] : [socket.localPort],
    );
  }

  /** Keeps connections open and accepts new ones, but delivers nothing until `restore()`. */
  silence(): void {
    this.silent = true;
  }

  /** Resolves when silence next swallows data, e.g. a query that was sent and will never arrive. */
  nextDrop(): Promise<void> {
    return new Promise((resolve) => this.dropListeners.push(resolve));
  }

  /**
   * Swallows the server's next answer and then resets that connection, as a network failure
   * right after the server acted would: the client never learns what happened and may send the
   * command again on its next connection (new connections are accepted as usual). Resolves once
   * the answer was lost.
   */
  loseNextReply(): Promise<void> {
    return new Promise((resolve) => (this.replyToLose = resolve));
  }

  /** Forwards again (listening on the same port after a cut). */
  async restore(): Promise<void> {
    this.silent = false;
    if (!this.server) await this.listen();
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    await this.cut();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        this.listenPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.silent) return; // held open, never connected upstream: a server that went quiet
    const upstream = connect(this.targetPort, this.targetHost);
    this.track(upstream);
    this.upstreams.add(upstream);
    upstream.on('close', () => this.upstreams.delete(upstream));
    const relay = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        const lost = this.replyToLose;
        if (from === upstream && lost !== null) {
          this.replyToLose = null;
          upstream.destroy();
          client.destroy();
          lost();
          return;
        }
        if (!this.silent) {
          to.write(chunk);
          return;
        }
        const listeners = this.dropListeners;
        this.dropListeners = [];
        for (const listener of listeners) listener();
      });
      from.on('close', () => to.destroy());
    };
    relay(client, upstream);
    relay(upstream, client);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }
}
