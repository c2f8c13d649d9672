import type { FastifyRequest } from 'fastify';

/** Absolute base for URLs this server answers itself: PUBLIC_URL, else how the client reached us. */
export function baseUrlOf(request: FastifyRequest, publicUrl: string | null): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}
