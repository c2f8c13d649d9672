import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { requireFilesWriteFor } from './folder-scope.js';
import { acceptFormFile, formFileBody, refuseUnfitForm, storeFormFile } from './form-file.js';
import { Upload } from './schema.js';
import type { StreamedUploads } from './streamed.js';

/** `POST /api/v1/uploads`: one file as multipart/form-data, streamed to storage, never whole in memory. */
export async function streamedUploadRoutes(app: FastifyInstance, opts: { streamed: StreamedUploads; maxBytes: number }) {
  const { streamed, maxBytes } = opts;
  await acceptFormFile(app, maxBytes);

  const route = routesOf(app, { tags: ['uploads'] });
  const limits = { maxBytes, largerFiles: 'use the multipart flow' };

  route.post('', {
    operationId: 'uploadFile',
    summary: 'Simple upload',
    description: `Upload one file (form field \`file\`) streamed through the server, up to ${maxBytes} bytes; answers the confirmed upload.`,
    scope: 'uploads:write',
    consumes: ['multipart/form-data'],
    querystring: Type.Object({
      folder_id: Type.Optional(Type.String({ description: 'A folder of yours: the upload also becomes version 1 of a file there.' })),
    }),
    body: formFileBody('The file to upload.'),
    response: { 201: { description: 'The upload, stored and confirmed.', schema: Type.Ref(Upload) } },
    notFound: 'folder',
    errors: [400, 413, 415, 422],
    options: { preValidation: async (request, reply) => refuseUnfitForm(request, reply, limits) },
    handler: async (request, reply) => {
      const caller = principalOf(request);
      const folderId = request.query.folder_id ?? null;
      try {
        requireFilesWriteFor(caller, [{ folder_id: folderId }]);
        await streamed.checkFolder(caller, folderId);
      } catch (error) {
        // The body was not read: closing spares the client from sending the rest of it.
        reply.header('connection', 'close');
        throw error;
      }
      const upload = await storeFormFile(request, reply, streamed, caller, limits, folderId);
      return reply.code(201).send(upload);
    },
  });
}
