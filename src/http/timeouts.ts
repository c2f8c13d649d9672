import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config.js';

type HttpTimeouts = Config['http'];

/**
 * Node's http.Server options for `timeouts` (Fastify passes them to createServer). The head and the
 * whole request are checked every `connectionsCheckingInterval`, so it follows the shortest limit.
 */
export function serverTimeoutOptions(t: HttpTimeouts) {
  const shortest = Math.min(t.headersTimeoutMs, t.requestTimeoutMs || Infinity);
  return {
    headersTimeout: t.headersTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(shortest / 4))),
  };
}

/**
 * Closes a connection that has been silent for `idleTimeoutMs` while the server waits on its client:
 * a request body that stopped coming, a response the client stopped reading, an idle keep-alive
 * socket. A request whose body is in and whose answer the server is still working out is left alone:
 * the silence is ours, and the work has limits of its own.
 *
 * Inactivity rather than total time bounds bodies: a 5 GiB upload at 1 MB/s takes 90 minutes yet
 * moves bytes every millisecond, while a body that stalls is cut off after a minute.
 */
export function closeIdleConnections(server: Server, t: HttpTimeouts): void {
  const inFlight = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    inFlight.set(req.socket, { req, res });
    res.once('close', () => {
      if (inFlight.get(req.socket)?.res === res) inFlight.delete(req.socket);
    });
  });
  // With a 'timeout' listener Node leaves the decision to close to us (keep-alive timeouts included).
  server.setTimeout(t.idleTimeoutMs, (socket: Socket) => {
    const current = inFlight.get(socket);
    const waitingOnClient = !current || !current.req.complete || current.res.writableNeedDrain || socket.writableNeedDrain;
    if (waitingOnClient) socket.destroy();
  });
}
