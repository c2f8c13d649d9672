import { session } from './session.js';
import type { Page } from './types.js';

/** An error answer of the API, as its envelope tells it (or the network's failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | boolean | null | undefined>;

interface Call {
  method?: string;
  query?: Query;
  body?: unknown;
  /** The key to send instead of the tab's (signing in tries one before keeping it). */
  key?: string;
}

let onRefusedKey: (error: ApiError) => void = () => {};

/** What to do when the API refuses the tab's key (revoked meanwhile): the shell signs out. */
export function whenKeyRefused(handler: (error: ApiError) => void): void {
  onRefusedKey = handler;
}

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** One call to /api/v1 on this origin, with the key in X-API-Key; answers the parsed JSON body. */
export async function api<T>(path: string, call: Call = {}): Promise<T> {
  const key = call.key ?? session.key();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers['x-api-key'] = key;
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(withQuery(`/api/v1${path}`, call.query), {
      method: call.method ?? 'GET',
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.');
  }
  const body = await response.json().catch(() => null);
  if (response.ok) return body as T;
  const error = errorOf(response, body);
  if (error.status === 401 && call.key === undefined) onRefusedKey(error);
  throw error;
}

/** A body the API sends back as bytes (thumbnails), for an object URL. */
export async function apiBlob(path: string): Promise<Blob> {
  const key = session.key();
  const response = await fetch(`/api/v1${path}`, { headers: key ? { 'x-api-key': key } : {} });
  if (!response.ok) throw errorOf(response, await response.json().catch(() => null));
  return response.blob();
}

export const getPage = <T>(path: string, query: Query = {}) => api<Page<T>>(path, { query });

function errorOf(response: Response, body: unknown): ApiError {
  const envelope = (body as { error?: { code?: string; message?: string; request_id?: string } } | null)?.error;
  return new ApiError(
    response.status,
    envelope?.code ?? 'http_error',
    envelope?.message ?? `The server answered ${response.status} ${response.statusText}.`,
    envelope?.request_id ?? response.headers.get('x-request-id'),
  );
}

/** A sentence for a person: the API's own message, with its request id to quote to whoever runs the server. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.requestId ? `${error.message} (request ${error.requestId})` : error.message;
  return error instanceof Error ? error.message : String(error);
}
