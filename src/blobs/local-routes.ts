import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { AppError, badRequest, conflict, notFound, payloadTooLarge, rangeNotSatisfiable } from '../http/errors.js';
import { errorResponses } from '../http/schemas.js';
import { BlobError } from './blob-store.js';
import { parseRange } from './byte-range.js';
import { contentDisposition } from './content-disposition.js';
import type { LocalBlobStore } from './local.js';
import type { BlobUrlSigner } from './signed-url.js';

/**
 * The endpoints behind the local driver's signed URLs: what S3 answers for the s3 driver.
 * Authorisation is the URL's HMAC, not an API key.
 */
export async function localBlobRoutes(app: FastifyInstance, opts: { store: LocalBlobStore; signer: BlobUrlSigner }) {
  const { store, signer } = opts;
  // Bodies stay streams: the bytes go to disk as they arrive, never whole into memory.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // A wildcard, not a :param: tokens are long and parametric segments have a length cap.
  const tokenParams = { type: 'object', properties: { '*': { type: 'string' } } } as const;
  const tokenOf = (params: unknown) => (params as { '*': string })['*'];

  app.put('/blob/*', {
    bodyLimit: Number.MAX_SAFE_INTEGER,
    schema: {
      hide: false,
      summary: 'Upload bytes to a signed URL (local driver)',
      description:
        'The URL comes from presign; the signature binds the key, expiry and declared size/sha256. ' +
        'A part URL of a multipart upload stores that part instead and answers its ETag (opaque, fresh for every write; list it when completing).',
      tags: ['blobs'],
      params: tokenParams,
      response: {
        200: { type: 'object', properties: { size_bytes: { type: 'integer' }, sha256: { type: 'string' }, etag: { type: 'string' } } },
        ...errorResponses(400, 404, 409, 413),
      },
    },
  }, async (request, reply) => {
    const grant = signer.verify(tokenOf(request.params), 'PUT');
    const declaredLength = request.headers['content-length'];
    if (grant.size !== undefined && declaredLength !== undefined && Number(declaredLength) !== grant.size) {
      reply.header('connection', 'close');
      throw badRequest(`Content-Length ${declaredLength} differs from the ${grant.size} bytes this URL was signed for`);
    }
    const body = request.body as Readable;
    try {
      if (grant.uploadId !== undefined && grant.partNumber !== undefined) {
        const part = await store.putPart(grant.key, grant.uploadId, grant.partNumber, body, grant.size);
        return reply.header('etag', part.etag).send({ size_bytes: part.size, etag: part.etag });
      }
      const stored = await store.put(grant.key, body, { size: grant.size, sha256: grant.sha256 });
      return reply.header('etag', `"${stored.sha256}"`).send({ size_bytes: stored.size, sha256: stored.sha256 });
    } catch (error) {
      reply.header('connection', 'close');
      throw translate(error);
    }
  });

  app.get('/blob/*', {
    schema: { summary: 'Download from a signed URL (local driver)', tags: ['blobs'], params: tokenParams, response: errorResponses(404, 416) },
  }, async (request, reply) => {
    const grant = signer.verify(tokenOf(request.params), request.method);
    const info = await store.stat(grant.key);
    if (!info) throw notFound('object');
    const range = parseRange(request.headers.range, info.size);
    if (range === 'unsatisfiable') throw rangeNotSatisfiable(info.size);
    reply
      .header('accept-ranges', 'bytes')
      .header('content-type', grant.contentType ?? 'application/octet-stream')
      .header('content-disposition', contentDisposition(grant.filename ?? 'download'))
      .header('cache-control', 'private, max-age=0');
    if (range) {
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${info.size}`);
      reply.header('content-length', range.end - range.start + 1);
    } else {
      reply.header('content-length', info.size);
    }
    // An empty stream, not an empty body: Fastify's HEAD handling keeps our Content-Length for streams only.
    if (request.method === 'HEAD') return reply.send(Readable.from([]));
    return reply.send(await store.read(grant.key, range ?? undefined));
  });
}

function translate(error: unknown): unknown {
  if (!(error instanceof BlobError)) return error;
  switch (error.kind) {
    case 'too_large':
      return payloadTooLarge(error.message);
    case 'size_mismatch':
    case 'checksum_mismatch':
      return badRequest(error.message, { reason: error.kind });
    case 'exists':
      return conflict('this upload URL was already used; blobs are immutable');
    case 'missing':
      // A part for an upload that was completed, aborted, or never started for this key.
      return notFound('multipart upload');
    case 'invalid_part':
      return badRequest(error.message, { reason: error.kind });
    default:
      return new AppError(500, 'internal_error', 'storage error');
  }
}
