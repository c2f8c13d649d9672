import { type StowageClient, createStowageClient } from '#sdk';
import { type ParsedArgs, CommandError, UsageError } from './args.js';
import { DEFAULT_URL } from './specs.js';

/** The server did not answer at all: nothing to retry per file. */
export class UnreachableError extends CommandError {}

/** The client of `upload` and `download`: --url/--key, else STOWAGE_URL/STOWAGE_API_KEY, checked before any request. */
export function clientFrom(args: ParsedArgs): StowageClient {
  const url = args.string('url') ?? (process.env.STOWAGE_URL || DEFAULT_URL);
  const key = args.string('key') ?? process.env.STOWAGE_API_KEY;
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new UsageError(`the server URL must start with http:// or https://, not "${url}" (--url or STOWAGE_URL)`);
  }
  if (!key) throw new UsageError('an API key is needed: --key KEY or STOWAGE_API_KEY');
  return createStowageClient({ baseUrl: url, apiKey: key, fetch: namingServer(url) });
}

/**
 * fetch whose failures to reach the server itself become one line naming it and what to change.
 * Requests to storage (signed URLs elsewhere) keep their own error: a download says it was cut.
 */
function namingServer(baseUrl: string): typeof fetch {
  const origin = new URL(baseUrl).origin;
  return async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      const target = input instanceof Request ? input.url : String(input);
      const reason = networkFailure(error);
      if (reason && new URL(target).origin === origin) {
        throw new UnreachableError(`cannot reach the server at ${baseUrl}: ${reason} (set --url or STOWAGE_URL)`);
      }
      throw error;
    }
  };
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
  ECONNRESET: 'the connection was reset',
  UND_ERR_SOCKET: 'the connection was cut',
  EPIPE: 'the connection was cut',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
};

/**
 * Why a request never got an answer (fetch's "fetch failed" and http.request's socket errors), or
 * null for any other error. A TLS failure names itself.
 */
export function networkFailure(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const fromFetch = error instanceof TypeError && error.message === 'fetch failed';
  const cause = (fromFetch ? error.cause : error) as (Error & { code?: string; errors?: { code?: string }[] }) | undefined;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (code && REASONS[code]) return REASONS[code];
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return `TLS: ${cause?.message}`;
  if (fromFetch) return cause?.message || 'no answer';
  return null;
}
