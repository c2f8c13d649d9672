import { PassThrough, Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, badRequest, conflict, internalError, notFound, payloadTooLarge } from '../../errors.js';

/** An error @tus/server answers itself: its own protocol checks (ERRORS in @tus/utils). */
interface TusError {
  status_code: number;
  body: string;
}

const isTusError = (value: unknown): value is TusError =>
  typeof value === 'object' && value !== null && !(value instanceof Error) && 'status_code' in value && 'body' in value;

// CORS is the app's (src/http/cors.ts); lengths are Fastify's to set for what it sends.
const NOT_COPIED = /^(access-control-|content-length$|content-type$)/i;

/**
 * The request as @tus/server reads it: a web Request over the same headers and the unread body.
 * `runtime.node` is what @tus/server looks for to hear a client that went away mid-body: it then ends
 * the body where it broke off instead of failing it, so the store keeps what arrived.
 */
export function webRequestOf(request: FastifyRequest, reply: FastifyReply): Request {
  const headers = new Headers();
  let url: URL;
  try {
    for (const [name, value] of Object.entries(request.headers)) {
      if (Array.isArray(value)) for (const one of value) headers.append(name, one);
      else if (value !== undefined) headers.set(name, value);
    }
    url = new URL(request.url, 'http://stowage.invalid');
  } catch {
    throw badRequest('the URL or a header of this request cannot be read');
  }
  const body = request.body instanceof Readable ? webBodyOf(request.body) : undefined;
  // duplex: a streamed request body (undici wants it named; Node 20's RequestInit type does not know it).
  const web = new Request(url, { method: request.method, headers, body, duplex: 'half' } as RequestInit);
  return Object.assign(web, { runtime: { name: 'node', node: { req: request.raw, res: reply.raw } } });
}

/**
 * The body as a web stream that never destroys the request: @tus/server cancels it when it stops
 * reading early (a refusal, a PATCH cut short), and a destroyed request takes the connection with it
 * before the answer is sent. What is left unread is cut off after the answer (Connection: close).
 */
function webBodyOf(body: Readable): ReadableStream {
  const relay = new PassThrough();
  body.once('error', (error) => relay.destroy(error));
  body.once('close', () => {
    if (!body.readableEnded) relay.destroy(new Error('the request body broke off'));
  });
  body.pipe(relay);
  return Readable.toWeb(relay) as ReadableStream;
}

/**
 * Sends @tus/server's answer through Fastify, so it carries X-Request-Id and the app's CORS headers
 * like every other. An error answer becomes the SPEC's envelope: what our code threw as it is (the
 * error handler renders it), tus's own protocol refusals with the code of their status.
 */
export async function sendTusAnswer(request: FastifyRequest, reply: FastifyReply, answer: Response, failure: unknown) {
  for (const [name, value] of answer.headers) if (!NOT_COPIED.test(name)) reply.header(name, value);
  const text = await answer.text();
  if (answer.status < 400) return reply.code(answer.status).send(text || undefined);
  // Refused before its body was read: closing spares the client from sending the rest.
  if (request.body instanceof Readable && !request.raw.complete) reply.header('connection', 'close');
  if (failure !== undefined && !isTusError(failure)) throw failure;
  throw protocolError(answer.status, (isTusError(failure) ? failure.body : text).trim());
}

/** tus's refusals in the envelope, keeping their statuses where the SPEC's table gives them the same meaning. */
function protocolError(status: number, message: string): AppError {
  const said = message || `the tus request was refused (${status})`;
  switch (status) {
    case 404:
    case 410:
      return notFound('tus upload');
    case 409:
      return conflict(`${said}: HEAD the upload for the offset to resume from`, null, true);
    case 412:
      return unsupportedVersion(said);
    case 413:
      return payloadTooLarge(said);
    case 500:
      return internalError();
    default:
      // 400 (a malformed tus header), 403 (tus's status for a missing Upload-Offset or Content-Type), 501.
      return badRequest(said);
  }
}

/** Tus-Resumable missing or of another version: 412 naming the version spoken here, as tus says. */
export const unsupportedVersion = (said = 'Tus-Resumable is missing or names a version not spoken here') =>
  new AppError(412, 'bad_request', `${said}: send Tus-Resumable: 1.0.0`, null, false, { 'tus-version': '1.0.0' });
