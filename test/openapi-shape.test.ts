/**
 * The shape of /openapi.json as a client generator and a reader of /docs meet it: every operation
 * named once, every answer described, and the lock on exactly the routes that want an API key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Harness, startStowage } from './helpers/harness.js';

interface Operation {
  operationId?: string;
  summary?: string;
  security?: Record<string, string[]>[];
  responses: Record<string, { description?: string }>;
}

interface Document {
  security?: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
}

/** Routes anyone may call: the signed URL (or nothing at all) is their authorisation. */
const PUBLIC = ['GET /healthz', 'GET /readyz', 'GET /metrics', 'PUT /blob/{*}', 'GET /blob/{*}'];

describe('the OpenAPI document', () => {
  let h: Harness;
  let operations: { name: string; path: string; operation: Operation }[];
  let document: Document;
  before(async () => {
    // The local driver, whose signed URLs are routes of this server.
    h = await startStowage({}, { worker: false, storage: 'local' });
    document = (await (await fetch(`${h.url}/openapi.json`)).json()) as Document;
    operations = Object.entries(document.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, path, operation })),
    );
  });
  after(() => h?.close());

  it('names every operation once, in camelCase, with a summary', () => {
    const missing = operations.filter(({ operation }) => !operation.operationId || !operation.summary).map(({ name }) => name);
    assert.deepEqual(missing, [], 'operations without an operationId or a summary');
    const ids = operations.map(({ operation }) => operation.operationId!);
    assert.deepEqual(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      [],
      'operationIds used twice',
    );
    assert.deepEqual(
      ids.filter((id) => !/^[a-z][a-zA-Z0-9]*$/.test(id)),
      [],
      'operationIds not in camelCase',
    );
  });

  it('describes every answer of every operation, none with the framework default', () => {
    const undescribed = operations.flatMap(({ name, operation }) =>
      Object.entries(operation.responses)
        .filter(([, response]) => !response.description?.trim() || response.description === 'Default Response')
        .map(([status]) => `${name} ${status}`),
    );
    assert.deepEqual(undescribed, []);
    assert.ok(
      operations.every(({ operation }) => Object.keys(operation.responses).some((status) => status.startsWith('2'))),
      'every operation documents its success',
    );
  });

  it('takes the lock off the public routes, and only those', () => {
    assert.ok(document.security?.length, 'the document asks for an API key by default');
    const listed = operations.map(({ name }) => name);
    assert.deepEqual(
      PUBLIC.filter((name) => !listed.includes(name)),
      [],
      'every public route is documented',
    );
    const open = operations
      .filter(({ operation }) => Array.isArray(operation.security) && operation.security.length === 0)
      .map(({ name }) => name);
    assert.deepEqual(open.sort(), [...PUBLIC].sort(), 'security: [] on exactly the public routes');
    const api = operations.filter(({ path }) => path.startsWith('/api/v1/'));
    assert.ok(api.length > 30, `${api.length} /api/v1 operations`);
    assert.deepEqual(
      api.filter(({ operation }) => operation.security !== undefined).map(({ name }) => name),
      [],
      '/api/v1 operations keep the document-wide API key requirement',
    );
  });

  it('lists 401 and 403 where a key is wanted and no 401 where none is', () => {
    const wrong = operations.flatMap(({ name, operation }) => {
      const isPublic = PUBLIC.includes(name);
      const has401 = '401' in operation.responses;
      if (isPublic && has401) return [`${name} lists 401 but takes no key`];
      if (!isPublic && !(has401 && '403' in operation.responses)) return [`${name} wants a key but lists no 401/403`];
      return [];
    });
    assert.deepEqual(wrong, []);
  });

  it('answers the public routes without a key, and an /api/v1 route not without one', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await fetch(h.url + path)).status, 200, path);
    assert.equal((await h.api('GET', '/api/v1/uploads/summary', { key: null })).status, 401);
  });
});
