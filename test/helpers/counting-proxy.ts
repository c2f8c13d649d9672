import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a Stowage server that knows which multipart part each request is about.
 * It forwards every request unchanged, Host header included, so the server signs part URLs for the
 * proxy's address and the part PUTs come back through it. It learns each part URL's number from the
 * answers to POST /api/v1/uploads/{id}/parts, counts the part PUTs the server stored, and can cut the
 * connection of every part PUT past an allowance, as a network failure mid-upload would.
 */
export interface CountingProxy {
  /** Base URL to give the client instead of the server's. */
  url: string;
  /** Part numbers the client asked URLs for, in order. */
  presigned: number[];
  /** Part numbers whose PUT the server answered 2xx, in the order the answers ended. */
  stored: number[];
  /** Part numbers whose PUT was cut before it reached the server. */
  cut: number[];
  /** Lets `n` more part PUTs through and cuts every later one; null lets all through. */
  allowParts(n: number | null): void;
  /** Resolves once no forwarded request is still open, so the counts are final. */
  idle(): Promise<void>;
  /** Forgets what was counted (not the part URLs it learnt). */
  resetCounts(): void;
  close(): Promise<void>;
}

const PART_URLS_ROUTE = /^\/api\/v1\/uploads\/[^/]+\/parts$/;

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const partOfUrl = new Map<string, number>();
  let allowance: number | null = null;
  const counts = { presigned: [] as number[], stored: [] as number[], cut: [] as number[] };
  let open = 0;
  const whenIdle: (() => void)[] = [];

  const forward = (request: http.IncomingMessage, response: http.ServerResponse, onResponse: (answer: http.IncomingMessage) => void) => {
    open++;
    const outgoing = http.request(
      // A connection of its own for each request: a pooled one the server closed while idle would fail it.
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, connection: 'close' },
        agent: false,
      },
      (answer) => {
        // A client gone before the answer reached it: drain the answer so the exchange can end.
        response.once('close', () => answer.resume());
        onResponse(answer);
      },
    );
    outgoing.on('close', () => {
      if (--open === 0) for (const resolve of whenIdle.splice(0)) resolve();
    });
    outgoing.on('error', () => request.socket.destroy());
    // A client gone mid-body takes its request to the server with it, as a direct connection would.
    request.on('close', () => {
      if (!request.complete) outgoing.destroy();
    });
    request.pipe(outgoing);
  };

  const server = http.createServer((request, response) => {
    const pathAndQuery = request.url ?? '/';
    const partNumber = request.method === 'PUT' ? partOfUrl.get(pathAndQuery) : undefined;

    if (partNumber !== undefined) {
      if (allowance !== null && allowance <= 0) {
        counts.cut.push(partNumber);
        request.socket.destroy();
        return;
      }
      if (allowance !== null) allowance--;
      forward(request, response, (answer) => {
        // The server answers a part PUT once the part is stored.
        if ((answer.statusCode ?? 0) < 300) counts.stored.push(partNumber);
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      return;
    }

    if (request.method === 'POST' && PART_URLS_ROUTE.test(pathAndQuery.split('?')[0])) {
      forward(request, response, async (answer) => {
        const chunks: Buffer[] = [];
        for await (const chunk of answer) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        if ((answer.statusCode ?? 0) === 200) {
          for (const part of (JSON.parse(body.toString()) as { parts: { part_number: number; url: string }[] }).parts) {
            const url = new URL(part.url);
            partOfUrl.set(url.pathname + url.search, part.part_number);
            counts.presigned.push(part.part_number);
          }
        }
        const headers = { ...answer.headers, 'content-length': String(body.length) };
        delete headers['transfer-encoding'];
        response.writeHead(answer.statusCode ?? 502, headers);
        response.end(body);
      });
      return;
    }

    forward(request, response, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
  });

  // Idle client connections are kept longer than any pause of the client's, so none is closed under it
  // as it sends (the race that makes a reused keep-alive connection fail a POST).
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get presigned() {
      return counts.presigned;
    },
    get stored() {
      return counts.stored;
    },
    get cut() {
      return counts.cut;
    },
    idle: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => whenIdle.push(resolve))),
    allowParts(n) {
      allowance = n;
    },
    resetCounts() {
      counts.presigned = [];
      counts.stored = [];
      counts.cut = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
