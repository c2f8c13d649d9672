import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { IdParams, Upload } from './schema.js';
import type { UploadTrash } from './trash.js';

const UploadRef = Type.Ref(Upload);
const Purged = Type.Object({ message: Type.String() });

/** Soft delete and recover (reference 004's trash) for uploads. */
export async function uploadTrashRoutes(app: FastifyInstance, opts: { trash: UploadTrash }) {
  const { trash } = opts;
  const route = routesOf(app, { tags: ['uploads'] });

  route.delete('/:data_source_id', {
    operationId: 'deleteUpload',
    summary: 'Delete Upload',
    description:
      'Moves a confirmed or failed upload to the trash: hidden from lists, its download URL 404, recoverable until the sweeper ' +
      'purges it (`STOWAGE_TRASH_RETENTION_DAYS`, default 30). 409 while a live file version or a dataset link uses it, naming ' +
      'them. `?permanent=true` (admin) purges it at once.',
    scope: 'uploads:write',
    params: IdParams,
    querystring: Type.Object({
      permanent: Type.Optional(Type.Boolean({ default: false, description: 'Purge at once instead of the trash (admin only).' })),
    }),
    response: { 200: { description: 'The upload, now in the trash; or a message when purged.', schema: Type.Union([UploadRef, Purged]) } },
    notFound: 'upload',
    errors: [409, 422],
    handler: async (request) =>
      trash.delete(principalOf(request), request.params.data_source_id, { permanent: request.query.permanent ?? false }),
  });

  route.post('/:data_source_id/recover', {
    operationId: 'recoverUpload',
    summary: 'Recover Upload',
    description: 'Takes the upload out of the trash; an upload not in the trash is answered unchanged. 409 once it was purged.',
    scope: 'uploads:write',
    params: IdParams,
    response: { 200: { description: 'The upload, live again.', schema: UploadRef } },
    notFound: 'upload',
    errors: [409],
    handler: async (request) => trash.recover(principalOf(request), request.params.data_source_id),
  });
}
