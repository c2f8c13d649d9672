import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findOwned } from '../../access/find-owned.js';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { jobView } from '../../jobs/jobs-repo.js';
import { Job } from '../uploads/schema.js';

/** Where a job stands, for clients polling the confirm (or any other) job they were given. */
export async function jobStatusRoutes(app: FastifyInstance, opts: { db: Db }) {
  const route = routesOf(app, { tags: ['jobs'] });
  route.get('/:job_id', {
    operationId: 'getJob',
    summary: 'Get Job',
    scope: 'uploads:read',
    params: Type.Object({ job_id: Type.String() }),
    response: { 200: { description: 'Where the job stands: its status, attempts and last error.', schema: Job } },
    notFound: 'job',
    handler: async (request) => jobView(await findOwned(opts.db, principalOf(request), 'job', request.params.job_id)),
  });
}
