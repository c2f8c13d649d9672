/** PostgreSQL error codes we turn into domain answers, in one place. */
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const CONNECTION_CLASS = '08';
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

interface PgLikeError {
  code?: string;
  constraint?: string;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as PgLikeError;
  return e?.code === UNIQUE_VIOLATION && (constraint === undefined || e.constraint === constraint);
}

/** The row referred to went away meanwhile (a parent deleted), or a row still refers to the one going. */
export function isForeignKeyViolation(error: unknown): boolean {
  return (error as PgLikeError)?.code === FOREIGN_KEY_VIOLATION;
}

/** True when the database could not be reached or refused work for a moment: answer 503, retry later. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as PgLikeError)?.code;
  if (!code) return /Connection terminated|timeout exceeded when trying to connect/i.test(String((error as Error)?.message));
  return code.startsWith(CONNECTION_CLASS) || UNAVAILABLE_CODES.has(code) || NETWORK_CODES.has(code);
}

// SQLSTATE class 57 (the server shutting down or ending the session) and class 08 (connection failures).
const LOST_CONNECTION_SQLSTATE = /^(57P0[1-4]|08\d{3})$/;
const LOST_CONNECTION_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
const LOST_CONNECTION_MESSAGE =
  /Connection terminated|connection error|Cannot use a pool after calling end|Client was closed|not queryable/i;

/** Whether `error` says the database connection is gone (rather than a query being wrong). */
export function isLostConnection(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (LOST_CONNECTION_SQLSTATE.test(code) || LOST_CONNECTION_ERRNO.has(code))) return true;
  return typeof message === 'string' && LOST_CONNECTION_MESSAGE.test(message);
}
