/** PostgreSQL error codes we turn into domain answers, in one place. */
const UNIQUE_VIOLATION = '23505';
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

/** True when the database could not be reached or refused work for a moment: answer 503, retry later. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as PgLikeError)?.code;
  if (!code) return /Connection terminated|timeout exceeded when trying to connect/i.test(String((error as Error)?.message));
  return code.startsWith(CONNECTION_CLASS) || UNAVAILABLE_CODES.has(code) || NETWORK_CODES.has(code);
}
