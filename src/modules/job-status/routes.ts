import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findOwned } from '../../access/find-owned.js';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../http/auth.js';
import { errorResponses } from '../../http/schemas.js';
import { jobView } from '../../jobs/jobs-repo.js';
import { Job } from '../uploads/schema.js';

/** Where a job stands, for clients polling the confirm (or any other) job they were given. */
export async function jobStatusRoutes(app: FastifyInstance, opts: { db: Db }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/:job_id', {
    config: { scope: 'uploads:read' },
    schema: {
      tags: ['jobs'], summary: 'Get Job', params: Type.Object({ job_id: Type.String() }),
      response: { 200: Job, ...errorResponses(404) },
    },
  }, async (request) => jobView(await findOwned(opts.db, principalOf(request), 'job', request.params.job_id)));
}
