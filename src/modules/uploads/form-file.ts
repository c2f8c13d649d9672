import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, payloadTooLarge, validationError } from '../../http/errors.js';
import type { Caller } from './service.js';
import type { StreamedUploads } from './streamed.js';

// Room for the multipart boundaries and part headers around the file itself.
const ENVELOPE_BYTES = 64 * 1024;

export interface FormFileLimits {
  maxBytes: number;
  /** What to do instead when the file is too large, for the 413's message. */
  largerFiles: string;
}

/**
 * Refuses, before a byte of the body is read, a request that is not multipart/form-data or that
 * declares more than the limit; the connection then closes so the client stops sending.
 */
export function refuseUnfitForm(request: FastifyRequest, reply: FastifyReply, limits: FormFileLimits): void {
  if (!request.isMultipart()) {
    reply.header('connection', 'close');
    throw badRequest('send multipart/form-data with the file in a form field named "file"');
  }
  if (Number(request.headers['content-length']) > limits.maxBytes + ENVELOPE_BYTES) {
    reply.header('connection', 'close');
    throw tooLarge(limits);
  }
}

/** Streams the form's `file` into a confirmed upload: 413 as soon as the limit is crossed, nothing left behind. */
export async function storeFormFile(request: FastifyRequest, reply: FastifyReply, streamed: StreamedUploads, caller: Caller, limits: FormFileLimits) {
  const part = await request.file();
  if (!part || part.fieldname !== 'file') {
    part?.file.resume();
    throw validationError([{ path: 'body.file', message: 'send the file in a form field named "file"' }]);
  }
  // busboy only truncates at the limit; failing the stream makes storage drop what it has written.
  part.file.once('limit', () => part.file.destroy(tooLarge(limits)));
  try {
    return await streamed.upload(caller, {
      name: part.filename ?? '',
      contentType: part.mimetype && part.mimetype !== 'application/octet-stream' ? part.mimetype : null,
      stream: part.file,
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'payload_too_large') reply.header('connection', 'close');
    throw error;
  }
}

const tooLarge = (limits: FormFileLimits) =>
  payloadTooLarge(`the file is over the ${limits.maxBytes}-byte limit of this upload; ${limits.largerFiles}`, { limit: limits.maxBytes });
