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
export const invalidApiKey = (message = 'missing, malformed or revoked API key') => new AppError(401, 'invalid_api_key', message);
export const insufficientScope = (needed: string) =>
  new AppError(403, 'insufficient_scope', `this API key lacks the "${needed}" scope`, { required_scope: needed });
export const signatureInvalid = () => new AppError(403, 'signature_invalid', 'the signed URL is malformed or its signature does not match');
export const urlExpired = () => new AppError(403, 'url_expired', 'the signed URL has expired; ask for a new one');
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details: unknown = null, retryable = false) =>
  new AppError(409, 'conflict', message, details, retryable);
export const payloadTooLarge = (message: string, details: unknown = null) => new AppError(413, 'payload_too_large', message, details);
export const rangeNotSatisfiable = (size: number) =>
  new AppError(416, 'range_not_satisfiable', `the requested range is outside the ${size}-byte object`, { size }, false, {
    'content-range': `bytes */${size}`,
  });
export const unsupportedMediaType = (message: string) => new AppError(415, 'unsupported_media_type', message);
export const validationError = (problems: FieldProblem[], message = 'the request is not valid') =>
  new AppError(422, 'validation_error', message, problems);
export const rateLimited = (retryAfterSeconds: number, scope: 'key' | 'org') =>
  new AppError(
    429,
    'rate_limited',
    `rate limit for this ${scope === 'key' ? 'API key' : 'organisation'} exceeded; retry after ${retryAfterSeconds} s`,
    { scope, retry_after: retryAfterSeconds },
    true,
    { 'retry-after': String(retryAfterSeconds) },
  );
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

/** The statuses an error answer can have; each has one row in the SPEC's errors table. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 416 | 422 | 429 | 500 | 503;

/**
 * What each error status means to a client of /api/v1, for the OpenAPI document. 404 is left out:
 * it names the thing looked up (`notFoundMeaning`).
 */
export const ERROR_MEANINGS: Record<Exclude<ErrorStatus, 404>, string> = {
  400: 'Bad request (`bad_request`): the request itself is malformed, e.g. unreadable JSON or a form without its file.',
  401: 'Missing, malformed or revoked API key (`invalid_api_key`): send `X-API-Key` or `Authorization: Bearer`.',
  403: 'The key is valid but lacks the scope this operation needs (`insufficient_scope`; `details.required_scope` names it).',
  409:
    "Conflict with the current state (`conflict`), as the operation's description says; also an Idempotency-Key " +
    'reused with another request, or still in flight (then retryable).',
  413: 'Too large (`payload_too_large`): the body, or the size it declares, is over the limit.',
  415: 'Content type refused by policy (`unsupported_media_type`).',
  416: 'The Range lies outside the content (`range_not_satisfiable`); `Content-Range: bytes */<size>` gives its size.',
  422: 'Validation Error (`validation_error`): the request does not match the schema; `details` lists each `{path, message}`.',
  429: 'Rate limit of the key or its organisation exceeded (`rate_limited`): retry after the `Retry-After` seconds.',
  500: 'Internal error (`internal_error`), with no internals disclosed; safe to retry.',
  503: 'The database or blob storage is unreachable (`unavailable`); retry shortly.',
};

/** The 404 row of an operation that looks `thing` up among the caller's organisation's rows. */
export const notFoundMeaning = (thing: string) =>
  `No such ${thing} in your organisation (\`not_found\`); another organisation's id answers exactly the same.`;

/** OpenAPI error responses, one per status, each the envelope with what that status means here. */
export function errorResponses(meanings: Partial<Record<ErrorStatus, string>>): Record<number, TSchema> {
  const statuses = Object.keys(meanings)
    .map(Number)
    .sort((a, b) => a - b) as ErrorStatus[];
  // A description beside the $ref: @fastify/swagger makes it the response's, leaving the schema a bare reference.
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref('ErrorEnvelope', { description: meanings[status] })]));
}
