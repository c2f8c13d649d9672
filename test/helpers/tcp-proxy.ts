/**
 * A loopback TCP proxy for fault tests: put it between the service and PostgreSQL or an S3 engine,
 * then cut, refuse, black-hole or truncate the traffic mid-request and bring it back. It knows nothing
 * of the protocols it carries.
 */
import net from 'node:net';

export type ProxyMode =
  /** Bytes flow both ways. */
  | 'open'
  /** New connections are accepted and reset at once (a server that went down, a firewall RST). */
  | 'refuse'
  /** New connections are accepted and never answered; bytes on open ones are held (a network partition). */
  | 'blackhole';

interface Link {
  client: net.Socket;
  server: net.Socket | null;
}

export class TcpProxy {
  private readonly links = new Set<Link>();
  private mode: ProxyMode = 'open';
  /** Bytes client → server the next connections may carry before both sides are cut; null: no limit. */
  private cutAfterBytes: number | null = null;
  /** Connections accepted so far, for tests that check the service reconnected. */
  connections = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server, target);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** A proxy in front of the host and port of `url` (postgres://…, http://…). */
  static forUrl(url: string): Promise<TcpProxy> {
    const parsed = new URL(url);
    const defaultPort = parsed.protocol.startsWith('postgres') ? 5432 : parsed.protocol === 'https:' ? 443 : 80;
    return TcpProxy.start({ host: parsed.hostname, port: Number(parsed.port || defaultPort) });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  }

  /** Resets every open connection now (both sides see it), leaving the mode as it is. */
  cutAll(): void {
    for (const link of this.links) this.drop(link);
  }

  /** Cuts what is open and resets every new connection until restore(). */
  refuse(): void {
    this.mode = 'refuse';
    this.cutAll();
  }

  /** Holds every byte, both ways, on open and new connections until restore() or cutAll(). */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const link of this.links) {
      link.client.pause();
      link.server?.pause();
    }
  }

  /** New connections carry `bytes` bytes towards the target, then both sides are cut. */
  cutAfter(bytes: number): void {
    this.cutAfterBytes = bytes;
  }

  /** Back to forwarding: held connections resume, new ones connect. */
  restore(): void {
    this.mode = 'open';
    this.cutAfterBytes = null;
    for (const link of this.links) {
      link.client.resume();
      link.server?.resume();
    }
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.connections++;
    client.on('error', () => {});
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const link: Link = { client, server: null };
    this.links.add(link);
    client.on('close', () => this.drop(link));
    if (this.mode === 'blackhole') {
      // Never connected onward: the client waits for an answer that does not come.
      client.pause();
      return;
    }
    this.connect(link);
  }

  private connect(link: Link): void {
    const server = net.connect(this.target.port, this.target.host);
    link.server = server;
    server.on('error', () => this.drop(link));
    server.on('close', () => this.drop(link));
    let budget = this.cutAfterBytes;
    link.client.on('data', (chunk: Buffer) => {
      if (budget !== null && chunk.length >= budget) {
        server.write(chunk.subarray(0, budget), () => this.drop(link));
        budget = 0;
        return;
      }
      if (budget !== null) budget -= chunk.length;
      this.forward(chunk, link.client, server);
    });
    server.on('data', (chunk: Buffer) => this.forward(chunk, server, link.client));
  }

  /** Writes with backpressure; a held (black-holed) connection stays held after a drain. */
  private forward(chunk: Buffer, from: net.Socket, to: net.Socket): void {
    if (to.write(chunk)) return;
    from.pause();
    to.once('drain', () => {
      if (this.mode !== 'blackhole') from.resume();
    });
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    if (!link.client.destroyed) link.client.resetAndDestroy();
    if (link.server && !link.server.destroyed) link.server.resetAndDestroy();
  }
}
