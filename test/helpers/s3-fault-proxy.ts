/**
 * An HTTP proxy in front of an S3 engine that answers chosen requests with an S3 error of our choice
 * (500 InternalError, 503 SlowDown…) instead of forwarding them, and counts what passed. Everything
 * else reaches the engine untouched, Host header included, so SigV4 signatures still hold.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** The status the client got, from the engine or from a fault. */
  status: number;
  faulted: boolean;
}

export interface S3Fault {
  /** Which requests: method and path-with-query, e.g. (m, u) => m === 'POST' && u.includes('uploadId='). */
  match(method: string, url: string): boolean;
  status: number;
  /** The S3 error code in the XML body (InternalError, SlowDown, ServiceUnavailable). */
  code: string;
  /** How many matching requests get the fault; Infinity until clear(). */
  times: number;
}

export class S3FaultProxy {
  readonly seen: SeenRequest[] = [];
  private faults: S3Fault[] = [];
  private readonly agent = new http.Agent({ keepAlive: true });

  private constructor(
    private readonly server: http.Server,
    private readonly target: URL,
  ) {}

  static async start(targetUrl: string): Promise<S3FaultProxy> {
    const server = http.createServer();
    const proxy = new S3FaultProxy(server, new URL(targetUrl));
    server.on('request', (request, response) => proxy.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  inject(fault: S3Fault): void {
    this.faults.push({ ...fault });
  }

  clear(): void {
    this.faults = [];
  }

  /** Requests seen that match, e.g. to count the attempts the SDK made. */
  count(match: (method: string, url: string) => boolean): number {
    return this.seen.filter((r) => match(r.method, r.url)).length;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const method = request.method ?? 'GET';
    const url = request.url ?? '/';
    const fault = this.faults.find((f) => f.times > 0 && f.match(method, url));
    if (fault) {
      fault.times--;
      this.seen.push({ method, url, status: fault.status, faulted: true });
      // Read the body first: answering mid-upload would leave the client writing into a closed socket.
      request.resume();
      request.on('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>injected by the test</Message><RequestId>fault</RequestId></Error>`;
        response.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        response.end(method === 'HEAD' ? undefined : body);
      });
      return;
    }
    const onward = http.request(
      { host: this.target.hostname, port: this.target.port, method, path: url, headers: request.headers, agent: this.agent },
      (answer) => {
        this.seen.push({ method, url, status: answer.statusCode ?? 0, faulted: false });
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    onward.on('error', () => response.destroy());
    request.pipe(onward);
  }
}
