import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/**
 * Browsers may call the API and PUT to signed URLs from the configured origins. No credentials are
 * involved (API keys travel in headers a page must set itself), so allowing any origin by default
 * exposes nothing a script elsewhere could not already do. The exposed headers are the ones clients
 * act on: a multipart part's ETag above all, which a browser cannot read otherwise, and tus's headers.
 */
export async function installCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (!origins.length) return;
  await app.register(cors, {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: [
      'ETag',
      'X-Request-Id',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'Retry-After',
      'Idempotent-Replayed',
      'Content-Disposition',
      // The tus protocol (/api/v1/tus): where the upload lives, how far it got, and its confirm job.
      'Location',
      'Upload-Offset',
      'Upload-Length',
      'Upload-Metadata',
      'Tus-Resumable',
      'Tus-Version',
      'Tus-Extension',
      'Tus-Max-Size',
      'Stowage-Job-Id',
    ],
    maxAge: 600,
  });
}
