import multipart from '@fastify/multipart';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { payloadTooLarge, validationError } from '../../http/errors.js';
import { errorResponses } from '../../http/schemas.js';
import { Upload } from './schema.js';
import type { StreamedUploads } from './streamed.js';

// Room for the multipart boundaries and part headers around the file itself.
const ENVELOPE_BYTES = 64 * 1024;

/** `POST /api/v1/uploads`: one file as multipart/form-data, streamed to storage, never whole in memory. */
export async function streamedUploadRoutes(app: FastifyInstance, opts: { streamed: StreamedUploads; maxBytes: number }) {
  const { streamed, maxBytes } = opts;
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10, parts: 12 } });

  app.post('/api/v1/uploads', {
    config: { scope: 'uploads:write' },
    schema: {
      tags: ['uploads'],
      summary: 'Simple upload',
      description: `Upload one file (form field \`file\`) streamed through the server, up to ${maxBytes} bytes; answers the confirmed upload.`,
      consumes: ['multipart/form-data'],
      response: { 201: Type.Ref(Upload), ...errorResponses(400, 413, 415, 422) },
    },
  }, async (request, reply) => {
    const declared = Number(request.headers['content-length']);
    if (declared > maxBytes + ENVELOPE_BYTES) {
      reply.header('connection', 'close');
      throw payloadTooLarge(`the simple upload takes at most ${maxBytes} bytes; use the multipart flow for larger files`, { limit: maxBytes });
    }
    const part = await request.file();
    if (!part || part.fieldname !== 'file') {
      part?.file.resume();
      throw validationError([{ path: 'body.file', message: 'send the file in a form field named "file"' }]);
    }
    const tooLarge = () =>
      payloadTooLarge(`the file is over the ${maxBytes}-byte limit of the simple upload; use the multipart flow`, { limit: maxBytes });
    // busboy only truncates at the limit; failing the stream makes storage drop what it has written.
    part.file.once('limit', () => part.file.destroy(tooLarge()));
    try {
      const upload = await streamed.upload(principalOf(request), {
        name: part.filename,
        contentType: part.mimetype && part.mimetype !== 'application/octet-stream' ? part.mimetype : null,
        stream: part.file,
      });
      return reply.code(201).send(upload);
    } catch (error) {
      if ((error as { code?: string }).code === 'payload_too_large') reply.header('connection', 'close');
      throw error;
    }
  });
}
