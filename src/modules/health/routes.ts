import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Registry } from 'prom-client';
import type { BlobStore } from '../../blobs/blob-store.js';
import type { Db } from '../../db/database.js';
import { unavailable } from '../../errors.js';
import { errorResponses } from '../../http/schemas.js';

const Status = Type.Object({ status: Type.String() });

export async function healthRoutes(app: FastifyInstance, opts: { db: Db; blobs: BlobStore; registry: Registry }) {
  const tags = ['health'];
  app.get('/healthz', { schema: { tags, summary: 'Liveness: the process answers', response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: { tags, summary: 'Readiness: database and storage reachable', response: { 200: Status, 503: errorResponses()[503] } },
  }, async () => {
    try {
      await sql`SELECT 1`.execute(opts.db);
    } catch {
      throw unavailable('the database');
    }
    try {
      await opts.blobs.ping();
    } catch {
      throw unavailable('blob storage');
    }
    return { status: 'ok' };
  });

  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(opts.registry.contentType);
    return opts.registry.metrics();
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
