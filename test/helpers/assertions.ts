import assert from 'node:assert/strict';
import type { ApiAnswer } from './harness.js';

/** The SPEC error envelope, with request_id echoing the X-Request-Id header. */
export function assertError(answer: ApiAnswer, status: number, code: string, what = '') {
  assert.equal(answer.status, status, `${what} → ${JSON.stringify(answer.body)}`);
  assert.deepEqual(Object.keys(answer.body ?? {}), ['error'], what);
  const error = answer.body.error;
  assert.deepEqual(Object.keys(error).sort(), ['code', 'details', 'message', 'request_id', 'retryable'], what);
  assert.equal(error.code, code, what);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.equal(typeof error.retryable, 'boolean');
  assert.ok(error.request_id, what);
  assert.equal(error.request_id, answer.headers.get('x-request-id'), `${what}: request_id equals the X-Request-Id header`);
}

/** A 422 that names the offending field. */
export function assertInvalid(answer: ApiAnswer, path: string, what = path) {
  assertError(answer, 422, 'validation_error', what);
  assert.ok(
    answer.body.error.details.some((d: { path: string }) => d.path === path),
    `${what}: ${JSON.stringify(answer.body.error.details)}`,
  );
}

type Call = (method: string, route: string, body: unknown, key: string | null) => Promise<ApiAnswer>;

/**
 * Each route refuses a missing key (401) and a key without the parts scopes (403); a read-only key
 * may GET and is refused anything else (403).
 */
export async function assertScopesEnforced(call: Call, routes: [string, string, unknown?][], keys: { unscoped: string; reader: string }) {
  for (const [method, route, body] of routes) {
    assertError(await call(method, route, body, null), 401, 'invalid_api_key', `${method} ${route}`);
    assertError(await call(method, route, body, keys.unscoped), 403, 'insufficient_scope', `${method} ${route}`);
    const asReader = await call(method, route, body, keys.reader);
    if (method === 'GET') assert.equal(asReader.status, 200, `${method} ${route} reader: ${JSON.stringify(asReader.body)}`);
    else assertError(asReader, 403, 'insufficient_scope', `${method} ${route} reader`);
  }
}
