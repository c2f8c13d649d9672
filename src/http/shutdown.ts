import type { FastifyInstance } from 'fastify';

const handlers = new WeakMap<FastifyInstance, { running: number; idle: (() => void)[] }>();

/**
 * Counts requests whose handler has not finished. A request cut off by the shutdown still has a
 * handler running (removing its half-written temp file, say); the process must not exit under it.
 */
export function trackRunningHandlers(app: FastifyInstance): void {
  const state = { running: 0, idle: [] as (() => void)[] };
  handlers.set(app, state);
  const done = new WeakSet<object>();
  const finish = (request: object) => {
    if (done.has(request)) return;
    done.add(request);
    if (--state.running === 0) for (const resolve of state.idle.splice(0)) resolve();
  };
  app.addHook('onRequest', async () => {
    state.running++;
  });
  // onSend runs once the handler has answered (or thrown), even for a client that is gone; onResponse
  // covers replies that skip it.
  app.addHook('onSend', async (request) => finish(request));
  app.addHook('onResponse', async (request) => finish(request));
}

/**
 * Stops taking requests and lets running ones finish; within the last part of `graceMs` cuts every
 * connection left (a body still streaming in, a keep-alive socket that turned idle just after the
 * close began) and waits for their handlers to wind down, until `graceMs` has passed.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const started = Date.now();
  const windDownMs = Math.min(1000, graceMs / 4);
  const cutOff = setTimeout(() => app.server.closeAllConnections(), Math.max(0, graceMs - windDownMs));
  try {
    await app.close();
  } finally {
    clearTimeout(cutOff);
  }
  const state = handlers.get(app);
  if (!state || state.running === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => state.idle.push(resolve)),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, started + graceMs - Date.now())))),
  ]);
  clearTimeout(timer);
}
