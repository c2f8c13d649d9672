/** A problem the API names in an error's `details` (422 answers list one per field at fault). */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * A non-2xx answer of the API (or of storage, for a transfer), from its error envelope: `code` is the
 * stable part to branch on, `message` is for people.
 */
export class StowageError extends Error {
  override readonly name = 'StowageError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly requestId: string | null = null,
    readonly retryable = false,
  ) {
    super(message);
  }
}

interface Envelope {
  error?: { code?: unknown; message?: unknown; details?: unknown; request_id?: unknown; retryable?: unknown };
}

/**
 * The error an answer stands for: its envelope when it has one, else its status and text. `what`
 * names the request in the message ("POST /api/v1/uploads/presign").
 */
export function errorFromAnswer(status: number, body: unknown, what: string, requestId: string | null = null): StowageError {
  const envelope = body && typeof body === 'object' ? (body as Envelope).error : undefined;
  if (envelope && typeof envelope.code === 'string') {
    const problems = Array.isArray(envelope.details)
      ? (envelope.details as FieldProblem[]).map((d) => ` ${d.path}: ${d.message}`).join(';')
      : '';
    return new StowageError(
      status,
      envelope.code,
      `${what}: ${status} ${String(envelope.message ?? '')}${problems}`,
      envelope.details ?? null,
      typeof envelope.request_id === 'string' ? envelope.request_id : requestId,
      envelope.retryable === true,
    );
  }
  const text = typeof body === 'string' ? body.slice(0, 300) : '';
  return new StowageError(status, 'http_error', `${what}: ${status} ${text}`.trim(), null, requestId, status >= 500 || status === 429);
}

/** What every call of the typed client answers (openapi-fetch's result). */
export interface CallResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * The body of a 2xx answer, or a StowageError for any other: for callers that would rather catch
 * than look at `error` after each call.
 */
export function unwrap<T>(result: CallResult<T>): T {
  if (result.response.ok) return result.data as T;
  throw errorOf(result);
}

/** The StowageError a failed call stands for. */
export function errorOf(result: CallResult<unknown>): StowageError {
  const { response } = result;
  return errorFromAnswer(response.status, result.error, describe(response), response.headers.get('x-request-id'));
}

/** The request each answer of a Stowage client came from, for messages ("POST /api/v1/uploads/presign"). */
const requests = new WeakMap<Response, string>();

export function rememberRequest(response: Response, request: Request): void {
  requests.set(response, `${request.method} ${new URL(request.url).pathname}`);
}

function describe(response: Response): string {
  const known = requests.get(response);
  if (known) return known;
  try {
    return new URL(response.url).pathname;
  } catch {
    return 'request';
  }
}
