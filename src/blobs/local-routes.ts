import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import {
  AppError,
  ERROR_MEANINGS,
  badRequest,
  conflict,
  errorResponses,
  notFound,
  payloadTooLarge,
  rangeNotSatisfiable,
} from '../errors.js';
import { type BlobAdmission, BlobError, type BlobStore, type StoredPart } from './blob-store.js';
import { parseRange } from './byte-range.js';
import { contentDisposition } from './content-disposition.js';
import type { BlobGrant, BlobUrlSigner } from './signed-url.js';

/** What the routes need of the local store: its blobs, and the parts of its multipart uploads. */
type LocalStore = Pick<BlobStore, 'put' | 'read' | 'stat' | 'delete'> & {
  putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<StoredPart>;
};

export interface LocalBlobRoutesOptions {
  store: LocalStore;
  signer: BlobUrlSigner;
  admit?: BlobAdmission;
}

/**
 * The endpoints behind the local driver's signed URLs: what S3 answers for the s3 driver, refusing
 * what S3 would refuse for the same signed request. Authorisation is the URL's HMAC, not an API key.
 */
export async function localBlobRoutes(app: FastifyInstance, opts: LocalBlobRoutesOptions) {
  const { store, signer, admit = async () => {} } = opts;
  // Bodies stay streams: the bytes go to disk as they arrive, never whole into memory.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // A wildcard, not a :param: tokens are long and parametric segments have a length cap.
  const tokenParams = { type: 'object', properties: { '*': { type: 'string' } } } as const;
  const tokenOf = (params: unknown) => (params as { '*': string })['*'];

  // Described here, not with src/http's route helper (blobs sit below http): no API key, so no lock
  // in the document (`security: []`) and no 401 or 429, which only a keyed route answers.
  const refused = {
    403:
      'The signature does not match (`signature_invalid`), also for another Content-Type than the signed one, ' +
      'or the URL has expired (`url_expired`).',
    500: ERROR_MEANINGS[500],
    503: ERROR_MEANINGS[503],
  } as const;

  app.put(
    '/blob/*',
    {
      bodyLimit: Number.MAX_SAFE_INTEGER,
      schema: {
        operationId: 'putSignedBlob',
        summary: 'Upload bytes to a signed URL (local driver)',
        description:
          'The URL comes from presign; the signature binds the key, expiry, declared size (or, undeclared, the single-request limit), sha256 and Content-Type. ' +
          'A URL of an upload that was cancelled or has expired takes no bytes (409). ' +
          'A part URL of a multipart upload stores that part instead and answers its ETag (opaque, fresh for every write; list it when completing).',
        tags: ['blobs'],
        security: [],
        params: tokenParams,
        response: {
          200: {
            type: 'object',
            properties: { size_bytes: { type: 'integer' }, sha256: { type: 'string' }, etag: { type: 'string' } },
            'x-response-description':
              "The bytes are stored: their size and sha256, or for a part URL the part's ETag (also in the ETag header).",
          },
          ...errorResponses({
            ...refused,
            400: 'The bytes differ from what the URL was signed for (`bad_request`): another Content-Length, size or sha256, or a part out of range.',
            404: 'No multipart upload for this part URL (`not_found`): completed, aborted or never started.',
            409: 'The URL was used already, blobs being immutable, or its upload was cancelled or has expired (`conflict`).',
            413: 'More bytes than the URL was signed for, or over the single-request limit (`payload_too_large`): use the multipart flow.',
          }),
        },
      },
    },
    async (request, reply) => {
      const grant = signer.verify(tokenOf(request.params), 'PUT');
      try {
        refuseUnsigned(grant, request.headers);
        await admit(grant, 'before');
      } catch (error) {
        // The body was not read: closing spares the client from sending the rest of it.
        reply.header('connection', 'close');
        throw error;
      }
      const body = request.body as Readable;
      try {
        if (grant.uploadId !== undefined && grant.partNumber !== undefined) {
          const part = await store.putPart(grant.key, grant.uploadId, grant.partNumber, body, grant.size);
          return reply.header('etag', part.etag).send({ size_bytes: part.size, etag: part.etag });
        }
        const stored = await store.put(grant.key, body, { size: grant.size, maxSize: grant.maxSize, sha256: grant.sha256 });
        await admitAfterwards(grant);
        return reply.header('etag', `"${stored.sha256}"`).send({ size_bytes: stored.size, sha256: stored.sha256 });
      } catch (error) {
        reply.header('connection', 'close');
        throw translate(error);
      }
    },
  );

  /** Cancelled while its bytes were streaming: they are not kept for an upload that will never use them. */
  async function admitAfterwards(grant: BlobGrant): Promise<void> {
    try {
      await admit(grant, 'after');
    } catch (error) {
      // Only a refusal: a database hiccup here must not cost the client bytes it sent in good faith.
      if (error instanceof AppError && error.status < 500) await store.delete(grant.key);
      throw error;
    }
  }

  app.get(
    '/blob/*',
    {
      schema: {
        operationId: 'getSignedBlob',
        summary: 'Download from a signed URL (local driver)',
        tags: ['blobs'],
        security: [],
        params: tokenParams,
        response: {
          200: {
            description: 'The whole object, with the Content-Type and file name it was signed for.',
            content: { [BYTES]: { schema: BINARY } },
          },
          206: {
            description: 'The byte range the Range header asked for (Content-Range gives where it lies).',
            content: { [BYTES]: { schema: BINARY } },
          },
          ...errorResponses({
            ...refused,
            404: 'No object under this URL (`not_found`): never stored, or removed since.',
            416: 'The Range lies outside the object (`range_not_satisfiable`); `Content-Range: bytes */<size>` gives its size.',
          }),
        },
      },
    },
    async (request, reply) => {
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
    },
  );
}

const BYTES = 'application/octet-stream';
const BINARY = { type: 'string', format: 'binary' } as const;

/**
 * What S3 refuses for the same signed request before reading its body: a Content-Length other than
 * the signed one, more than the bound of a URL signed without a size, another Content-Type than the
 * signed one. A chunked body has no Content-Length: storage counts its bytes as they come instead.
 */
function refuseUnsigned(grant: BlobGrant, headers: IncomingHttpHeaders): void {
  const declaredLength = headers['content-length'];
  if (grant.size !== undefined && declaredLength !== undefined && Number(declaredLength) !== grant.size) {
    throw badRequest(`Content-Length ${declaredLength} differs from the ${grant.size} bytes this URL was signed for`);
  }
  if (grant.maxSize !== undefined && Number(declaredLength) > grant.maxSize) {
    throw payloadTooLarge(
      `Content-Length ${declaredLength} is over the ${grant.maxSize}-byte limit of one request; use the multipart flow`,
      {
        limit: grant.maxSize,
      },
    );
  }
  if (grant.contentType !== undefined && (headers['content-type'] ?? '').trim() !== grant.contentType) {
    throw new AppError(403, 'signature_invalid', `this URL was signed for Content-Type ${grant.contentType}; send exactly that header`, {
      signed_content_type: grant.contentType,
    });
  }
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
