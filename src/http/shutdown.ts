import type { FastifyInstance } from 'fastify';

/**
 * Stops taking requests and lets running ones finish for `graceMs`; then closes whatever is left.
 * Without the cut-off a keep-alive socket that turned idle just after the close began would hold
 * shutdown for the whole keep-alive timeout.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const cutOff = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(cutOff);
  }
}
