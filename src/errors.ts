import { type TSchema, Type } from '@sinclair/typebox';

/** The one error type the service raises; the error handler renders it as the SPEC envelope. */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_api_key'
  | 'insufficient_scope'
  | 'signature_invalid'
  | 'url_expired'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'range_not_satisfiable'
  | 'unsupported_media_type'
  | 'validation_error'
  | 'rate_limited'
  | 'internal_error'
  | 'unavailable';

export interface FieldProblem {
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown = null,
    readonly retryable = false,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, details: unknown = null) => new AppError(400, 'bad_request', message, details);
export const invalidApiKey = (message = 'missing, malformed or revoked API key') =>
  new AppError(401, 'invalid_api_key', message);
export const insufficientScope = (needed: string) =>
  new AppError(403, 'insufficient_scope', `this API key lacks the "${needed}" scope`, { required_scope: needed });
export const signatureInvalid = () =>
  new AppError(403, 'signature_invalid', 'the signed URL is malformed or its signature does not match');
export const urlExpired = () => new AppError(403, 'url_expired', 'the signed URL has expired; ask for a new one');
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details: unknown = null, retryable = false) =>
  new AppError(409, 'conflict', message, details, retryable);
export const payloadTooLarge = (message: string, details: unknown = null) =>
  new AppError(413, 'payload_too_large', message, details);
export const rangeNotSatisfiable = (size: number) =>
  new AppError(416, 'range_not_satisfiable', `the requested range is outside the ${size}-byte object`, { size }, false, {
    'content-range': `bytes */${size}`,
  });
export const unsupportedMediaType = (message: string) => new AppError(415, 'unsupported_media_type', message);
export const validationError = (problems: FieldProblem[], message = 'the request is not valid') =>
  new AppError(422, 'validation_error', message, problems);
export const rateLimited = (retryAfterSeconds: number, scope: 'key' | 'org') =>
  new AppError(429, 'rate_limited', `rate limit for this ${scope === 'key' ? 'API key' : 'organisation'} exceeded; retry after ${retryAfterSeconds} s`,
    { scope, retry_after: retryAfterSeconds }, true, { 'retry-after': String(retryAfterSeconds) });
export const internalError = () => new AppError(500, 'internal_error', 'internal error', null, true);
export const unavailable = (what: string) => new AppError(503, 'unavailable', `${what} is unreachable; retry shortly`, null, true);

/** The envelope every error answer carries, for the OpenAPI document. */
export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable error code (see the errors table).' }),
      message: Type.String({ description: 'Human-readable explanation.' }),
      request_id: Type.String({ description: 'Echo of the X-Request-Id header of this answer.' }),
      retryable: Type.Boolean({ description: 'Whether the same request may succeed when retried.' }),
      details: Type.Unknown({ description: 'Structured details: for 422, a list of {path, message}.' }),
    }),
  },
  { $id: 'ErrorEnvelope', title: 'Error envelope' },
);

const ErrorRef = Type.Ref('ErrorEnvelope');

/** The error rows a route can produce, for its OpenAPI responses. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const all = new Set([401, 403, 429, 500, 503, ...statuses]);
  return Object.fromEntries([...all].sort().map((status) => [status, ErrorRef]));
}
