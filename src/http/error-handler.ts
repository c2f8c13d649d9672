import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BlobError } from '../blobs/blob-store.js';
import { isDatabaseUnavailable } from '../db/pg-errors.js';
import { newId } from '../ids.js';
import { AppError, type ErrorCode, type FieldProblem, badRequest, internalError, notFound, unavailable } from '../errors.js';

/** Renders every failure as the SPEC envelope; the only place that decides what a client sees of an error. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.debug({ code: appError.code }, appError.message);
    return sendError(request, reply, appError);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, notFound(`route ${request.method} ${request.url.split('?')[0]}`)));
}

/**
 * Fastify's `frameworkErrors` option: the router refuses a URL before any route or hook runs (bad
 * percent-encoding, a path parameter over maxParamLength). Same envelope and X-Request-Id as the rest.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  reply.header('x-request-id', request.id);
  const appError =
    error.code === 'FST_ERR_BAD_URL'
      ? badRequest('the URL is not valid: check its percent-encoding')
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new AppError(414, 'bad_request', 'a path segment of the URL is too long')
        : toAppError(error);
  return sendError(request, reply, appError);
}

const CLIENT_ERRORS: Record<string, { status: number; message: string; retryable?: boolean }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: 'the request line or headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'the request was not received in time', retryable: true },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, message: 'the request headers were not received in time', retryable: true },
};

/**
 * Fastify's `clientErrorHandler` option: Node's HTTP parser refused the bytes themselves (no request
 * exists yet), so the envelope is written straight to the socket, with a request id minted here.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // Node's own rule: once a response has begun on this socket, nothing more can be said on it.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const known = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, message: 'the request is not valid HTTP' };
  const requestId = newId();
  const body = JSON.stringify(
    envelope(new AppError(known.status, 'bad_request', known.message, null, known.retryable ?? false), requestId),
  );
  socket.end(
    `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\n` +
      `X-Request-Id: ${requestId}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError) {
  reply.code(error.status).headers(error.headers).type('application/json; charset=utf-8');
  return reply.send(envelope(error, request.id));
}

/** The SPEC's error envelope: the one shape every non-2xx answer has. */
function envelope(error: AppError, requestId: string) {
  return {
    error: { code: error.code, message: error.message, request_id: requestId, retryable: error.retryable, details: error.details ?? null },
  };
}

function toAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  if (error.validation) return fromValidation(error);
  if (isDatabaseUnavailable(error)) return unavailable('the database');
  if (error instanceof BlobError && error.kind === 'unavailable') return unavailable('blob storage');
  const status = error.statusCode ?? 500;
  if (status >= 500) return internalError();
  const code = FRAMEWORK_CODES[status];
  // Framework messages about the request itself (bad JSON, missing content type) are safe to show.
  return code ? new AppError(status, code, frameworkMessage(error)) : new AppError(400, 'bad_request', frameworkMessage(error));
}

// Anything else the framework or a plugin refuses (415, 406 for a non-multipart body, …) is about
// the request itself: 400 bad_request, as the SPEC's table says.
const FRAMEWORK_CODES: Record<number, ErrorCode> = {
  404: 'not_found',
  413: 'payload_too_large',
};

function frameworkMessage(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported Content-Type for this endpoint; send application/json';
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'the JSON body is empty';
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'the request body is too large';
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return 'the body is not valid JSON';
  return error.message;
}

function fromValidation(error: FastifyError): AppError {
  const where = error.validationContext ?? 'body';
  const problems: FieldProblem[] = (error.validation ?? []).map((issue) => {
    const params = issue.params as Record<string, unknown>;
    const segments = issue.instancePath.split('/').filter(Boolean).map(decodePointer);
    if (typeof params?.missingProperty === 'string') segments.push(params.missingProperty);
    if (typeof params?.additionalProperty === 'string') segments.push(params.additionalProperty);
    const message =
      typeof params?.missingProperty === 'string'
        ? 'is required'
        : typeof params?.additionalProperty === 'string'
          ? 'is not a known field'
          : (issue.message ?? 'is invalid');
    return { path: [where, ...segments].reduce(joinPath), message };
  });
  return new AppError(422, 'validation_error', 'the request is not valid', dedupe(problems));
}

const decodePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');
const joinPath = (acc: string, segment: string) => (/^\d+$/.test(segment) ? `${acc}[${segment}]` : `${acc}.${segment}`);

function dedupe(problems: FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
