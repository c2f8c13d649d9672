import { Readable, Stream } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseRange } from '../../blobs/byte-range.js';
import { contentDisposition } from '../../blobs/content-disposition.js';
import { payloadTooLarge, rangeNotSatisfiable } from '../../errors.js';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { acceptFormFile, formFile, type FormFileLimits, refuseUnfitForm } from '../uploads/form-file.js';
import { sendThumbnail } from '../readings/thumbnail.js';
import { FileParams, FileRef, VersionQuery } from './schema.js';
import type { FileContent } from './content.js';

const BYTES = { type: 'string', format: 'binary' } as const;

/**
 * A file's bytes in and out. Its own plugin: the body parsers here hand every body over as a stream
 * (a form's `file` field, or the raw body), which the JSON routes must never see.
 */
export async function fileContentRoutes(app: FastifyInstance, opts: { content: FileContent; maxBytes: number }) {
  const { content: files, maxBytes } = opts;
  app.removeAllContentTypeParsers();
  await acceptFormFile(app, maxBytes);
  // Any other type is the content itself, streamed to storage as it arrives.
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  const route = routesOf(app, { tags: ['files'] });
  const limits = { maxBytes, largerFiles: 'upload it with presign or multipart and give its data_source_id to PUT or reupload' };

  route.post('/:file_id/content', {
    operationId: 'putFileContent',
    summary: 'Send File Content',
    description:
      `The bytes a create without content or a reupload declared: the raw body, or a form field \`file\`; up to ${maxBytes} bytes ` +
      '(larger ones: presign or multipart, then `data_source_id`). Exactly the declared `size`, else 422 and nothing is kept.',
    scope: 'files:write',
    params: FileParams,
    consumes: ['application/octet-stream', 'multipart/form-data'],
    // Nothing required: the raw body reaches validation as a stream (an object), a form's or a missing one as null.
    body: Type.Unsafe({
      type: ['object', 'null'],
      description: 'The content as the raw body, or as a form field `file`.',
      properties: { file: { type: 'string', format: 'binary', description: 'The content, in a multipart/form-data body.' } },
    }),
    response: { 200: { description: 'The file at the version its content made.', schema: FileRef } },
    notFound: 'file',
    errors: [400, 409, 413, 415, 422],
    options: {
      bodyLimit: Number.MAX_SAFE_INTEGER,
      config: { rawBody: true },
      // A form is checked as every form upload is; a raw body only for the size it declares.
      preValidation: async (request, reply) => {
        if (request.isMultipart()) return refuseUnfitForm(request, reply, limits);
        if (Number(request.headers['content-length']) > maxBytes) {
          reply.header('connection', 'close');
          throw payloadTooLarge(`the content is over the ${maxBytes}-byte limit of a streamed content; ${limits.largerFiles}`, {
            limit: maxBytes,
          });
        }
      },
    },
    handler: async (request, reply) => {
      try {
        return await files.putContent(principalOf(request), request.params.file_id, await contentOf(request, limits));
      } catch (error) {
        // The content policy refused what was declared (type, size, quota) while the client may still be sending: stop it.
        const code = (error as { code?: string }).code;
        if (code === 'payload_too_large' || code === 'unsupported_media_type') reply.header('connection', 'close');
        throw error;
      }
    },
  });

  route.get('/:file_id/content', {
    operationId: 'getFileContent',
    summary: 'Get File Content',
    description:
      'The bytes of the tip, or of version `ver`, with `Content-Type` and `Content-Disposition` from that version; a `Range` ' +
      'header gets 206 with that part. 404 for a file in the trash.',
    scope: 'files:read',
    params: FileParams,
    querystring: VersionQuery,
    produces: ['application/octet-stream'],
    response: {
      200: { description: 'The whole content.', schema: BYTES as never },
      206: { description: 'The byte range the Range header asked for (Content-Range says where it lies).', schema: BYTES as never },
    },
    notFound: 'file, version or content',
    errors: [416, 422],
    handler: async (request, reply) => {
      const { version, upload } = await files.content(principalOf(request), request.params.file_id, request.query.ver);
      const size = Number(upload.size_bytes);
      const range = parseRange(request.headers.range, size);
      if (range === 'unsatisfiable') throw rangeNotSatisfiable(size);
      const props = version.properties;
      reply
        .header('accept-ranges', 'bytes')
        .header('content-type', typeof props.content_type === 'string' ? props.content_type : 'application/octet-stream')
        .header('content-disposition', contentDisposition(String(props.filename ?? upload.name)))
        .header('etag', `"${upload.sha256}"`);
      if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
      reply.header('content-length', range ? range.end - range.start + 1 : size);
      return reply.send(await files.read(upload, range ?? undefined));
    },
  });
  route.get('/:file_id/thumbnail', {
    operationId: 'getFileThumbnail',
    summary: 'Get File Thumbnail',
    description:
      'A small WebP of the tip (or of version `ver`) when it is an image or a PDF (its first page), made by the reading of its bytes; 404 where there is none.',
    scope: 'files:read',
    params: FileParams,
    querystring: VersionQuery,
    produces: ['image/webp', 'image/png'],
    response: { 200: { description: 'The thumbnail.', schema: BYTES as never } },
    notFound: 'file, version or thumbnail',
    errors: [422],
    handler: async (request, reply) => {
      return sendThumbnail(reply, await files.thumbnail(principalOf(request), request.params.file_id, request.query.ver));
    },
  });
}

/** The content of a POST: a form's `file` field, or the raw body. */
async function contentOf(request: FastifyRequest, limits: FormFileLimits): Promise<{ stream: Readable; contentType: string | null }> {
  if (request.isMultipart()) return formFile(request, limits);
  // No body at all (no Content-Type, nothing sent) is empty content: right only for a declared size of 0.
  const stream = request.body instanceof Stream ? (request.body as Readable) : Readable.from([]);
  return { stream, contentType: request.headers['content-type'] ?? null };
}
