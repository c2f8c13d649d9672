import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Registry } from 'prom-client';
import type { BlobStore } from '../../blobs/blob-store.js';
import type { Db } from '../../db/database.js';
import { unavailable } from '../../errors.js';
import { routesOf } from '../../http/route.js';

const Status = Type.Object({ status: Type.String() });

export async function healthRoutes(app: FastifyInstance, opts: { db: Db; blobs: BlobStore; registry: Registry }) {
  const route = routesOf(app, { tags: ['health'] });
  route.get('/healthz', {
    operationId: 'getLiveness',
    summary: 'Liveness: the process answers',
    public: true,
    response: { 200: { description: 'The process is up: `{"status": "ok"}`.', schema: Status } },
    handler: async () => ({ status: 'ok' }),
  });

  route.get('/readyz', {
    operationId: 'getReadiness',
    summary: 'Readiness: database and storage reachable',
    public: true,
    response: { 200: { description: 'The database and blob storage both answer: `{"status": "ok"}`.', schema: Status } },
    errors: [503],
    handler: async () => {
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
    },
  });

  route.get('/metrics', {
    operationId: 'getMetrics',
    summary: 'Prometheus metrics',
    public: true,
    produces: ['text/plain'],
    response: { 200: { description: "The process's metrics in Prometheus' text exposition format.", schema: Type.String() } },
    handler: async (_request, reply) => {
      reply.type(opts.registry.contentType);
      return opts.registry.metrics();
    },
  });

  // The document itself is no operation of it.
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
