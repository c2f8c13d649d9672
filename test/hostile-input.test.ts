/**
 * Regressions for what the OpenAPI fuzz (fuzz-openapi.test.ts) found: each case answered 500, lost
 * the envelope or X-Request-Id, or silently altered the value, before its fix.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError, assertInvalid } from './helpers/assertions.js';
import { sendRaw, type RawAnswer } from './helpers/fuzz-http.js';
import { type ApiAnswer, type Harness, startStowage } from './helpers/harness.js';

describe('hostile input is a 4xx in the envelope, and changes nothing', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startStowage({}, { worker: false, storage: 'local' });
    port = Number(new URL(h.url).port);
  });
  after(() => h.close());

  const partCount = async () => (await h.api('GET', '/api/v1/parts/?limit=1', { key: h.keys.admin })).body.count;
  const createPart = (body: unknown, headers: Record<string, string> = {}) =>
    h.api('POST', '/api/v1/parts/', { key: h.keys.admin, body, headers });

  it('NUL in a jsonb value or key, a key label or a search text is 422 naming the field (was 500 from PostgreSQL)', async () => {
    const before = await partCount();
    assertInvalid(await createPart('{"part_number":"N1","attributes":{"k":"a\\u0000b"}}'), 'body.attributes.k');
    const nulKey = await createPart('{"part_number":"N2","attributes":{"a\\u0000":1}}');
    assertError(nulKey, 422, 'validation_error');
    assert.match(nulKey.body.error.details[0].message, /NUL/);
    assertInvalid(
      await h.api('POST', '/api/v1/keys', { key: h.keys.admin, body: '{"scopes":["admin"],"label":"a\\u0000b"}' }),
      'body.label',
    );
    assertInvalid(await h.api('GET', '/api/v1/parts/?q=%00', { key: h.keys.admin }), 'querystring.q');
    assert.equal(await partCount(), before, 'no part was created');
  });

  it('a lone surrogate is 422: in jsonb it was a 500, in text it was stored as U+FFFD', async () => {
    assertInvalid(await createPart('{"part_number":"S1","description":"\\ud800"}'), 'body.description');
    assertInvalid(await createPart('{"part_number":"S2","attributes":{"x":"a\\udfffb"}}'), 'body.attributes.x');
    const paired = await createPart('{"part_number":"S3","description":"\\ud83d\\ude00"}');
    assert.equal(paired.status, 201, 'a surrogate pair (😀) is fine');
    assert.equal(paired.body.description, '😀');
  });

  it('numbers past every range are 422: 1e400 is Infinity, offsets past bigint (were 500)', async () => {
    for (const query of ['limit=1e400', 'offset=1e400', 'limit=Infinity', 'offset=9223372036854775808', 'offset=99999999999999999999']) {
      const field = `querystring.${query.split('=')[0]}`;
      assertInvalid(await h.api('GET', `/api/v1/uploads/?${query}`, { key: h.keys.admin }), field, query);
      assertInvalid(await h.api('GET', `/api/v1/parts/?${query}`, { key: h.keys.admin }), field, `parts ${query}`);
    }
    assert.equal(
      (await h.api('GET', '/api/v1/parts/?offset=2147483647', { key: h.keys.admin })).status,
      200,
      'the largest offset still works',
    );
    assertInvalid(await createPart('{"part_number":"I1","lead_time_days":1e400}'), 'body.lead_time_days');
  });

  it('JSON nested thousands deep is 422, with or without Idempotency-Key (was a stack overflow, 500)', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const before = await partCount();
    for (const headers of [{}, { 'idempotency-key': 'deep-json-1' }] as Record<string, string>[]) {
      const answer = await createPart(`{"part_number":"D1","attributes":${deep}}`, headers);
      assertError(answer, 422, 'validation_error', JSON.stringify(headers));
      assert.match(answer.body.error.details[0].message, /deeper than 64/);
    }
    assert.equal(await partCount(), before);
    // A route with no body schema: the hook (installBodyDepthGuard), not the schema, refuses it.
    const upload = (await h.api('POST', '/api/v1/uploads/presign', { key: h.keys.admin, body: { name: 'deep.txt' } })).body.data_source_id;
    for (const body of [`${'['.repeat(100_000)}${']'.repeat(100_000)}`, deep]) {
      const answer = await h.api('POST', `/api/v1/uploads/${upload}/cancel`, {
        key: h.keys.admin,
        body,
        headers: { 'idempotency-key': `deep-${body.length}` },
      });
      assertError(answer, 422, 'validation_error', 'schema-less route');
    }
    assert.equal(
      (await h.api('GET', `/api/v1/uploads/${upload}`, { key: h.keys.admin })).body.status,
      'pending',
      'the upload was not cancelled',
    );
    const fine = await createPart({ part_number: 'D2', attributes: { a: { b: { c: [1, [2, [3]]] } } } });
    assert.equal(fine.status, 201, 'ordinary nesting is fine');
  });

  // The router and Node's HTTP parser refuse these before any hook runs: they need the
  // frameworkErrors / clientErrorHandler options of src/app.ts wired to src/http/error-handler.ts.
  const raw = async (request: string): Promise<ApiAnswer> => {
    const outcome = await sendRaw(port, Buffer.from(request, 'latin1'), 5000);
    assert.ok(!('failure' in outcome), `${JSON.stringify(request.slice(0, 80))}: ${JSON.stringify(outcome)}`);
    const answer = outcome as RawAnswer;
    return { status: answer.status, headers: new Headers(answer.headers), body: JSON.parse(answer.body.toString('utf8')) };
  };
  const get = (target: string, extra = '') =>
    raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: ${h.keys.admin}\r\n${extra}\r\n`);

  it('a form whose Content-Type names no boundary is 400, and both form routes say so in OpenAPI (was a 500 from busboy)', async () => {
    const form = { 'content-type': 'multipart/form-data' };
    const uploads = async () => (await h.api('GET', '/api/v1/uploads/summary')).body.total_count;
    const before = await uploads();
    assertError(await h.api('POST', '/api/v1/uploads', { body: '--x\r\n', headers: form }), 400, 'bad_request');
    assert.equal(await uploads(), before, 'nothing was stored');
    const { paths } = (await h.api('GET', '/openapi.json')).body;
    for (const route of ['/api/v1/uploads', '/api/v1/parts/{part_id}/revisions/{revision_id}/datasets/upload']) {
      const schema = paths[route].post.requestBody?.content?.['multipart/form-data']?.schema;
      assert.equal(schema?.properties?.file?.format, 'binary', `${route} documents its form's file field`);
    }
  });

  it("bad percent-encoding in the path is 400 in the envelope with X-Request-Id (was Fastify's own FST_ERR_BAD_URL body)", async () => {
    for (const target of ['/api/v1/uploads/%E0%A4%A', '/api/v1/parts/%zz', '/api/v1/parts/x%/revisions']) {
      assertError(await get(target), 400, 'bad_request', target);
    }
  });

  it('a path parameter over 100 characters is 414 in the envelope (was FST_ERR_MAX_PARAM_LENGTH)', async () => {
    assertError(await get(`/api/v1/parts/${'a'.repeat(300)}`), 414, 'bad_request');
  });

  it("what Node's HTTP parser refuses is answered in the envelope with X-Request-Id", async () => {
    assertError(await get('/api/v1/parts/', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431, 'bad_request', 'headers too large');
    assertError(await get(`/api/v1/parts/?q=${'a'.repeat(20_000)}`), 431, 'bad_request', 'URL too long');
    assertError(await get('/api/v1/parts/', 'X-API-Key2: a\u0001b\r\n'), 400, 'bad_request', 'control byte in a header');
    assertError(await raw('GET / HTTP/9.9\r\n\r\n'), 400, 'bad_request', 'HTTP version');
    assertError(
      await raw(`POST /api/v1/parts/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
      400,
      'bad_request',
      'CL and TE',
    );
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200, 'the server is fine');
  });

  it('tus (/api/v1/tus): bad offsets, lengths, metadata and content types are 4xx in the envelope and change nothing', async () => {
    const tus = (method: string, route: string, headers: Record<string, string>, body?: string) =>
      h.api(method, route, { key: h.keys.admin, headers: { 'tus-resumable': '1.0.0', ...headers }, body });
    const name = `filename ${Buffer.from('hostile.bin').toString('base64')}`;
    const uploads = async () => (await h.api('GET', '/api/v1/uploads/summary', { key: h.keys.admin })).body.total_count;
    const created = await tus('POST', '/api/v1/tus', { 'upload-length': '10', 'upload-metadata': name });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const target = `/api/v1/tus/${created.headers.get('location')!.split('/').pop()}`;
    const before = await uploads();

    const octets = { 'content-type': 'application/offset+octet-stream' };
    for (const offset of ['-1', 'abc', '1e3', '0x0', '', '+0', '99999999999999999999']) {
      assertError(await tus('PATCH', target, { ...octets, 'upload-offset': offset }, 'x'), 400, 'bad_request', `Upload-Offset ${offset}`);
    }
    assertError(await tus('PATCH', target, octets, 'x'), 400, 'bad_request', 'no Upload-Offset');
    for (const type of ['application/json', 'application/octet-stream', 'text/plain']) {
      assertError(await tus('PATCH', target, { 'content-type': type, 'upload-offset': '0' }, '"x"'), 400, 'bad_request', type);
    }
    assertError(await tus('PATCH', target, { 'upload-offset': '0' }), 400, 'bad_request', 'no Content-Type');
    assertError(await tus('PATCH', target, { ...octets, 'upload-offset': '0' }, 'x'.repeat(11)), 413, 'payload_too_large', 'past the end');
    assert.equal((await tus('HEAD', target, {})).headers.get('upload-offset'), '0', 'no byte was kept');

    for (const length of ['-5', '1.5', '1e3', '+10', '99999999999999999999', 'ten']) {
      assertError(
        await tus('POST', '/api/v1/tus', { 'upload-length': length, 'upload-metadata': name }),
        400,
        'bad_request',
        `Upload-Length ${length}`,
      );
    }
    assertError(await tus('POST', '/api/v1/tus', { 'upload-length': '10', 'upload-metadata': 'filename not*base64' }), 400, 'bad_request');
    assertError(
      await tus('POST', '/api/v1/tus', { 'upload-length': '10', 'upload-metadata': `${name},${name}` }),
      400,
      'bad_request',
      'a key twice',
    );
    const huge = `${name},${Array.from({ length: 300 }, (_, i) => `k${i} ${Buffer.from('v'.repeat(9)).toString('base64')}`).join(',')}`;
    const tooMuch = await tus('POST', '/api/v1/tus', { 'upload-length': '10', 'upload-metadata': huge });
    assertError(tooMuch, 400, 'bad_request', `${huge.length} bytes of Upload-Metadata`);
    assert.match(tooMuch.body.error.message, /at most 4096/);
    const headerMax = await tus('POST', '/api/v1/tus', { 'upload-length': '10', 'upload-metadata': `${name},x ${'QUFB'.repeat(5000)}` });
    assertError(headerMax, 431, 'bad_request', "past Node's header limit");
    assert.equal(await uploads(), before, 'no upload was created');
  });
});

describe('rate limits answer in the envelope', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ RATE_LIMIT_PER_KEY: '3', RATE_LIMIT_PER_ORG: '1000' }, { worker: false, storage: 'local' });
  });
  after(() => h.close());

  it('the request past the limit is 429 rate_limited with Retry-After and X-Request-Id', async () => {
    const answers: ApiAnswer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await h.api('GET', '/api/v1/parts/', { key: h.keys.admin }));
    assert.deepEqual(
      answers.slice(0, 3).map((a) => a.status),
      [200, 200, 200],
    );
    const limited = answers[3];
    assertError(limited, 429, 'rate_limited');
    assert.equal(limited.body.error.retryable, true);
    assert.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After says when to come back');
  });
});
