import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BlobError } from '../blobs/blob-store.js';
import { isDatabaseUnavailable } from '../db/pg-errors.js';
import { AppError, type ErrorCode, type FieldProblem, internalError, notFound, unavailable } from './errors.js';

/** Renders every failure as the SPEC envelope; the only place that decides what a client sees of an error. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.debug({ code: appError.code }, appError.message);
    return sendError(request, reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, notFound(`route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError) {
  reply.code(error.status).headers(error.headers).type('application/json; charset=utf-8');
  return reply.send({
    error: {
      code: error.code,
      message: error.message,
      request_id: request.id,
      retryable: error.retryable,
      details: error.details ?? null,
    },
  });
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
    const message = typeof params?.missingProperty === 'string' ? 'is required'
      : typeof params?.additionalProperty === 'string' ? 'is not a known field'
      : issue.message ?? 'is invalid';
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
