import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../src/blobs/s3.js';
import { after, before, describe, it } from 'node:test';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { postForm, sendForm } from './helpers/forms.js';
import { assertError } from './helpers/assertions.js';

describe('HTTP conventions', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ RATE_LIMIT_PER_KEY: '1000', RATE_LIMIT_PER_ORG: '5000' });
  });
  after(() => h.close());

  describe('X-Request-Id', () => {
    it('is on every answer, and a sane client-sent one is echoed in header and envelope', async () => {
      const minted = await h.api('GET', '/healthz');
      assert.match(minted.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      const echoed = await h.api('GET', '/api/v1/uploads/nope', { headers: { 'x-request-id': 'client-trace.42' } });
      assert.equal(echoed.headers.get('x-request-id'), 'client-trace.42');
      assert.equal(echoed.body.error.request_id, 'client-trace.42');
      const insane = await h.api('GET', '/healthz', { headers: { 'x-request-id': 'no spaces <allowed>' } });
      assert.notEqual(insane.headers.get('x-request-id'), 'no spaces <allowed>');
    });
  });

  it('answers unknown routes with a 404 envelope', async () => {
    const answer = await h.api('GET', '/api/v1/nothing-here');
    assert.equal(answer.status, 404);
    assert.deepEqual(Object.keys(answer.body.error).sort(), ['code', 'details', 'message', 'request_id', 'retryable']);
    assert.equal(answer.body.error.code, 'not_found');
    assert.equal(answer.body.error.retryable, false);
  });

  it('never leaks stacks, SQL or paths in errors', async () => {
    const answers = await Promise.all([
      h.api('POST', '/api/v1/uploads/presign', { body: '{"name": "x",' }),
      h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: "'; DROP TABLE uploads; --" } }),
      h.api('GET', `/blob/${'A'.repeat(300)}.${'B'.repeat(43)}`),
    ]);
    for (const answer of answers) {
      const text = JSON.stringify(answer.body);
      assert.ok(answer.status >= 400 && answer.status < 500, text);
      assert.doesNotMatch(text, /at \w+ \(|node_modules|\/work\/|SELECT|syntax error at/i);
    }
  });

  describe('Idempotency-Key', () => {
    it('replays the first answer for the same request, without doing the work again', async () => {
      const headers = { 'idempotency-key': 'presign-1' };
      const first = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'once.txt' }, headers });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      const countAfterFirst = (await h.api('GET', '/api/v1/uploads/summary')).body.total_count;
      const second = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'once.txt' }, headers });
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(second.body, first.body);
      assert.equal((await h.api('GET', '/api/v1/uploads/summary')).body.total_count, countAfterFirst, 'no second upload');
    });

    it('treats the same JSON with keys in another order as the same request', async () => {
      const headers = { 'idempotency-key': 'presign-order' };
      const first = await h.api('POST', '/api/v1/uploads/presign', { body: '{"name":"o.txt","size_bytes":3}', headers });
      const second = await h.api('POST', '/api/v1/uploads/presign', { body: '{"size_bytes":3,"name":"o.txt"}', headers });
      assert.equal(second.headers.get('idempotent-replayed'), 'true');
      assert.equal(second.body.data_source_id, first.body.data_source_id);
    });

    it('answers 409 conflict when the key is reused with another body or path', async () => {
      const headers = { 'idempotency-key': 'presign-2' };
      await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'a.txt' }, headers });
      const otherBody = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'b.txt' }, headers });
      assert.equal(otherBody.status, 409);
      assert.equal(otherBody.body.error.code, 'conflict');
      assert.equal(otherBody.body.error.retryable, false);
      const otherPath = await h.api('POST', '/api/v1/uploads/presign/batch', { body: { files: [{ name: 'a.txt' }] }, headers });
      assertError(otherPath, 409, 'conflict');
    });

    it('replays error answers too, and keys are per organisation', async () => {
      const headers = { 'idempotency-key': 'cancel-missing' };
      const route = '/api/v1/uploads/0190d7c4-0000-7000-8000-000000000000/cancel';
      const first = await h.api('POST', route, { headers });
      assertError(first, 404, 'not_found');
      const replay = await h.api('POST', route, { headers });
      assert.equal(replay.status, 404);
      assert.deepEqual(replay.body, first.body, 'the first answer, envelope and all');
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      const otherOrg = await h.api('POST', '/api/v1/uploads/presign', { key: h.keys.otherOrg, body: { name: 'mine.txt' }, headers });
      assert.equal(otherOrg.status, 200, 'another org may use the same key string');
      assert.equal(otherOrg.headers.get('idempotent-replayed'), null);
    });

    it('rejects a malformed key with 400', async () => {
      const answer = await h.api('POST', '/api/v1/uploads/presign', {
        body: { name: 'x.txt' },
        headers: { 'idempotency-key': 'x'.repeat(300) },
      });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error.code, 'bad_request');
    });

    it('answers a retryable 409 while the first request with the key is in flight, then replays its answer', async () => {
      const key = 'held-in-flight';
      const bytes = Buffer.from('held until the second request was answered\n');
      // The first request really is in flight: its form is sent but for its last byte.
      const first = sendForm(h, { bytes, filename: 'held.txt', idempotencyKey: key });
      await eventually(async () => {
        const row = await h.runtime.database.db.selectFrom('idempotency_keys').select('state').where('key', '=', key).executeTakeFirst();
        return row?.state === 'in_flight' ? true : undefined;
      }, 'the first request to hold the key');

      const second = await postForm(h, { bytes, filename: 'held.txt', idempotencyKey: key });
      assert.equal(second.status, 409);
      assert.equal(second.body.error.code, 'conflict');
      assert.equal(second.body.error.retryable, true);

      const done = await first.finish();
      assert.equal(done.status, 201, JSON.stringify(done.body));
      const retried = await postForm(h, { bytes, filename: 'held.txt', idempotencyKey: key });
      assert.equal(retried.status, 201);
      assert.equal(retried.replayed, true);
      assert.equal(retried.body.id, done.body.id, 'one upload for the three requests');
    });
  });

  it('serves OpenAPI generated from the routes, the interactive docs, health and metrics', async () => {
    const spec = (await h.api('GET', '/openapi.json', { key: null })).body;
    assert.equal(spec.openapi, '3.1.0');
    const expected: [string, string][] = [
      ['post', '/api/v1/uploads/presign'],
      ['post', '/api/v1/uploads/presign/batch'],
      ['post', '/api/v1/uploads/confirm'],
      ['get', '/api/v1/uploads/'],
      ['get', '/api/v1/uploads/summary'],
      ['get', '/api/v1/uploads/{data_source_id}'],
      ['post', '/api/v1/uploads/{data_source_id}/cancel'],
      ['post', '/api/v1/uploads/{data_source_id}/retry'],
      ['post', '/api/v1/uploads/bulk-cancel'],
      ['post', '/api/v1/uploads/bulk-retry'],
      ['get', '/api/v1/uploads/{data_source_id}/download-url'],
      ['get', '/api/v1/jobs/{job_id}'],
      ['post', '/api/v1/keys'],
      ['get', '/api/v1/keys'],
      ['delete', '/api/v1/keys/{id}'],
    ];
    for (const [method, path] of expected) {
      const operation = spec.paths[path]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${path} is documented`);
      const ok = operation.responses['200'] ?? operation.responses['201'];
      assert.ok(ok?.content?.['application/json']?.schema, `${method} ${path} has a response schema`);
      assert.ok(operation.responses['401'], `${method} ${path} documents its error rows`);
      if (method === 'post' && !path.includes('{')) assert.ok(operation.requestBody, `${method} ${path} has a request schema`);
    }
    assert.ok(spec.components.schemas.ErrorEnvelope, 'the error envelope is a named schema');
    const presignBody = spec.paths['/api/v1/uploads/presign'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(presignBody.required, ['name']);

    const docs = await fetch(`${h.url}/docs`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
    assert.deepEqual((await h.api('GET', '/healthz', { key: null })).body, { status: 'ok' });
    assert.deepEqual((await h.api('GET', '/readyz', { key: null })).body, { status: 'ok' });
    const metrics = await fetch(`${h.url}/metrics`);
    assert.match(await metrics.text(), /stowage_http_request_duration_seconds_bucket/);
  });
});

describe('readiness', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage();
  });
  after(() => h.close());

  it('answers 503 unavailable while blob storage is unreachable, and ready again after', async () => {
    const outage = await storageOutage(h);
    try {
      const down = await h.api('GET', '/readyz', { key: null });
      assert.equal(down.status, 503);
      assert.equal(down.body.error.code, 'unavailable');
      assert.equal(down.body.error.retryable, true);
      assert.equal((await h.api('GET', '/healthz', { key: null })).status, 200, 'liveness is unaffected');
    } finally {
      await outage.end();
    }
    assert.equal((await h.api('GET', '/readyz', { key: null })).status, 200);
  });
});

/** Takes the harness's storage away for real: the blob folder moved aside, or the bucket deleted. */
async function storageOutage(h: Harness): Promise<{ end(): Promise<void> }> {
  if (h.runtime.blobs instanceof S3BlobStore) {
    const { client, bucket } = h.runtime.blobs;
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    return { end: async () => void (await client.send(new CreateBucketCommand({ Bucket: bucket }))) };
  }
  const blobs = `${h.dataDir}/blobs`;
  await rename(blobs, `${blobs}.away`);
  return { end: () => rename(`${blobs}.away`, blobs) };
}

describe('rate limits', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ RATE_LIMIT_PER_KEY: '5', RATE_LIMIT_PER_ORG: '8', RATE_LIMIT_WINDOW_SECONDS: '60' });
  });
  after(() => h.close());

  it('limits per key with RateLimit headers, then 429 with Retry-After', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await h.api('GET', '/api/v1/uploads/summary', { key: h.keys.reader }));
    assert.equal(answers[0].headers.get('ratelimit-limit'), '5');
    assert.equal(answers[0].headers.get('ratelimit-remaining'), '4');
    assert.ok(Number(answers[0].headers.get('ratelimit-reset')) >= 1);
    assert.equal(answers[4].status, 200);
    const limited = answers[5];
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.equal(limited.body.error.retryable, true);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });

  it('limits per organisation across its keys, leaving other organisations alone', async () => {
    // The reader used 5 of the org's 8 (its sixth was refused before counting against the org).
    for (let i = 0; i < 3; i++) assert.equal((await h.api('GET', '/api/v1/uploads/summary', { key: h.keys.writer })).status, 200);
    const limited = await h.api('GET', '/api/v1/uploads/summary', { key: h.keys.admin });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.details.scope, 'org');
    assert.equal((await h.api('GET', '/api/v1/uploads/summary', { key: h.keys.otherOrg })).status, 200);
  });
});
