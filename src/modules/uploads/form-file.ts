import { PassThrough, type Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, badRequest, payloadTooLarge, validationError } from '../../errors.js';
import { boundaryOf } from '../../http/streamed-body-digest.js';
import type { Caller } from '../../access/caller.js';
import type { StreamedFile, StreamedUploads } from './streamed.js';

// Room for the multipart boundaries and part headers around the file itself.
export const ENVELOPE_BYTES = 64 * 1024;

export interface FormFileLimits {
  maxBytes: number;
  /** What to do instead when the file is too large, for the 413's message. */
  largerFiles: string;
}

/**
 * The form as OpenAPI shows it. The multipart parser leaves the body undefined (validated as null),
 * which `nullable` lets through: validation never stands between the client and the stream.
 */
/**
 * Lets the routes of `app` (one plugin's context: the JSON routes never see it) take one file as
 * multipart/form-data, streamed, with a few small fields beside it and nothing more.
 */
export async function acceptFormFile(app: FastifyInstance, maxBytes: number): Promise<void> {
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10, parts: 12 } });
}

export const formFileBody = (description: string) =>
  Type.Unsafe({
    type: 'object',
    nullable: true,
    properties: { file: { type: 'string', format: 'binary', description } },
    required: ['file'],
  });

/**
 * Refuses, before a byte of the body is read, a request that is not multipart/form-data or that
 * declares more than the limit; the connection then closes so the client stops sending.
 */
export function refuseUnfitForm(request: FastifyRequest, reply: FastifyReply, limits: FormFileLimits): void {
  if (!request.isMultipart()) {
    reply.header('connection', 'close');
    throw badRequest('send multipart/form-data with the file in a form field named "file"');
  }
  // busboy throws on a form without a boundary, which would surface as a 500.
  if (!boundaryOf(request.headers['content-type'] ?? '')) {
    reply.header('connection', 'close');
    throw badRequest('the multipart/form-data Content-Type names no boundary');
  }
  if (Number(request.headers['content-length']) > limits.maxBytes + ENVELOPE_BYTES) {
    reply.header('connection', 'close');
    throw tooLarge(limits);
  }
}

/**
 * The form's `file` field as a stream of its bytes (with its name and type): failing with a 413 as
 * soon as the limit is crossed, and with a 400 when the body ends before the part does.
 */
export async function formFile(request: FastifyRequest, limits: FormFileLimits): Promise<StreamedFile> {
  const part = await request.file();
  if (!part || part.fieldname !== 'file') {
    part?.file.resume();
    throw validationError([{ path: 'body.file', message: 'send the file in a form field named "file"' }]);
  }
  // busboy only truncates at the limit; failing the stream makes storage drop what it has written.
  part.file.once('limit', () => part.file.destroy(tooLarge(limits)));
  return {
    name: part.filename ?? '',
    contentType: part.mimetype && part.mimetype !== 'application/octet-stream' ? part.mimetype : null,
    stream: failingWhenFormBreaksOff(part.file),
  };
}

/** Streams the form's `file` into a confirmed upload: 413 as soon as the limit is crossed, nothing left behind. */
export async function storeFormFile(
  request: FastifyRequest,
  reply: FastifyReply,
  streamed: StreamedUploads,
  caller: Caller,
  limits: FormFileLimits,
  folderId: string | null = null,
) {
  const file = await formFile(request, limits);
  try {
    return await streamed.upload(caller, { ...file, atLeast: fileBytesAtLeast(request), folderId });
  } catch (error) {
    // Refused while the client may still be sending: closing spares it the rest of the body.
    if (REFUSED_BODY.has((error as { code?: string }).code ?? '')) reply.header('connection', 'close');
    throw error;
  }
}

const REFUSED_BODY = new Set(['payload_too_large', 'unsupported_media_type']);

/** What the Content-Length of a form says of its file before a byte of it is read: at least this many bytes. */
function fileBytesAtLeast(request: FastifyRequest): number | undefined {
  const length = Number(request.headers['content-length']);
  return Number.isSafeInteger(length) && length > ENVELOPE_BYTES ? length - ENVELOPE_BYTES : undefined;
}

/**
 * The file's bytes, failing with a 400 when the body ends (or the client goes) before the file part
 * does. busboy reports that only by emitting 'error' on its stream, often before anyone listens, and
 * @fastify/multipart then destroys the stream without an error: a consumer would wait for its end forever.
 */
function failingWhenFormBreaksOff(file: Readable): Readable {
  const bytes = new PassThrough({ readableHighWaterMark: file.readableHighWaterMark });
  const brokenOff = () =>
    bytes.destroy(badRequest('the form ended before the file part did: send the whole body, closing boundary included'));
  file.on('error', (error: Error) => (error instanceof AppError ? bytes.destroy(error) : brokenOff()));
  file.once('close', () => {
    if (!file.readableEnded) brokenOff();
  });
  // Consumers see the error through their own listener; this one spares the process an uncaught
  // error when the consumer has already given up (a refused name resumes the stream and leaves).
  bytes.on('error', () => {});
  // Storage giving up stops the form too, as a pipeline would.
  bytes.once('close', () => file.destroy());
  if (file.destroyed && !file.readableEnded) brokenOff();
  else file.pipe(bytes);
  return bytes;
}

const tooLarge = (limits: FormFileLimits) =>
  payloadTooLarge(`the file is over the ${limits.maxBytes}-byte limit of this upload; ${limits.largerFiles}`, { limit: limits.maxBytes });
