import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { acceptFormFile, formFileBody, refuseUnfitForm, storeFormFile } from '../uploads/form-file.js';
import type { StreamedUploads } from '../uploads/streamed.js';
import { DatasetLink, DatasetUploadQuery } from './schema.js';
import type { DatasetService } from './service.js';
import { RevisionParams } from '../revisions/schema.js';

/**
 * `POST …/datasets/upload` (reference 001, "Upload Dataset"): the simple streamed upload, then the
 * link, as one call. Its own plugin because the multipart parser must not reach the JSON routes.
 */
export async function datasetUploadRoutes(
  app: FastifyInstance,
  opts: { datasets: DatasetService; streamed: StreamedUploads; maxBytes: number },
) {
  const { datasets, streamed, maxBytes } = opts;
  await acceptFormFile(app, maxBytes);
  const route = routesOf(app, { tags: ['datasets'] });

  const limits = { maxBytes, largerFiles: 'use the multipart flow and attach the upload' };

  route.post('/upload', {
    operationId: 'uploadDataset',
    summary: 'Upload Dataset',
    description:
      `Upload one file (form field \`file\`, up to ${maxBytes} bytes) streamed to storage and link it to the revision; ` +
      'answers 201 with the link. `role` defaults from the extension; the link rules are those of Attach Dataset.',
    scope: 'parts:write',
    consumes: ['multipart/form-data'],
    params: RevisionParams,
    querystring: DatasetUploadQuery,
    body: formFileBody('The CAD model or drawing file to attach to the revision.'),
    response: { 201: { description: 'The file is stored and confirmed; the dataset link created.', schema: Type.Ref(DatasetLink) } },
    notFound: 'part or revision of that part',
    errors: [400, 409, 413, 415, 422],
    options: { preValidation: async (request, reply) => refuseUnfitForm(request, reply, limits) },
    handler: async (request, reply) => {
      const caller = principalOf(request);
      const { part_id: partId, revision_id: revisionId } = request.params;
      try {
        // Before any byte is stored: a wrong revision must not leave an unlinked upload behind.
        await datasets.assertRevision(caller, partId, revisionId);
      } catch (error) {
        // The body was not read: closing spares the client from sending the rest of it.
        reply.header('connection', 'close');
        throw error;
      }
      const upload = await storeFormFile(request, reply, streamed, caller, limits);
      const { role, is_primary: isPrimary } = request.query;
      const link = await datasets.attach(caller, partId, revisionId, { data_source_id: upload.id, role, is_primary: isPrimary });
      return reply.code(201).send(link);
    },
  });
}
