import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { countBlobFiles } from './helpers/blob-files.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { sha256 } from './helpers/uploads.js';
import { assertError } from './helpers/assertions.js';
import { postForm } from './helpers/forms.js';

const LIMIT = 1024 * 1024;

/** POSTs one file part as multipart/form-data, chunked (no Content-Length) unless told otherwise. */

describe('the simple streamed upload (POST /api/v1/uploads)', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ STOWAGE_SIMPLE_UPLOAD_MAX_BYTES: String(LIMIT) });
  });
  after(() => h.close());

  it('answers 201 with the confirmed upload, hashed on the way, and the bytes download again', async () => {
    const bytes = Buffer.from('%PDF-1.4\n' + 'drawing '.repeat(10_000));
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'application/pdf' }), 'A-100 drawing.pdf');
    const response = await fetch(`${h.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': h.keys.writer }, body: form });
    assert.equal(response.status, 201);
    const upload = await response.json();
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.name, 'A-100 drawing.pdf');
    assert.equal(upload.size_bytes, bytes.length);
    assert.equal(upload.sha256, sha256(bytes));
    assert.equal(upload.content_type, 'application/pdf');
    assert.equal(upload.detected_content_type, 'application/pdf');

    const link = await h.api('GET', `/api/v1/uploads/${upload.id}/download-url`);
    assert.ok(Buffer.from(await (await fetch(link.body.url)).arrayBuffer()).equals(bytes));
    const job = await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: upload.id } });
    assert.equal((await h.api('GET', `/api/v1/jobs/${job.body.job_id}`)).body.status, 'succeeded');
  });

  it('takes a file exactly at the limit, chunked', async () => {
    const bytes = Buffer.alloc(LIMIT, 3);
    const answer = await postForm(h, { filename: 'exact.bin', bytes });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.sha256, sha256(bytes));
  });

  it('answers 413 as soon as a chunked body crosses the limit, leaving no row and no blob', async () => {
    const before = (await h.api('GET', '/api/v1/uploads/summary')).body.total_count;
    const filesBefore = await countBlobFiles(h);
    const answer = await postForm(h, { filename: 'huge.bin', bytes: Buffer.alloc(LIMIT + 1, 1) });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.code, 'payload_too_large');
    assert.equal((await h.api('GET', '/api/v1/uploads/summary')).body.total_count, before);
    assert.equal(await countBlobFiles(h), filesBefore, 'no blob and no temp file left behind');
  });

  it('answers 413 up front when Content-Length already says too much', async () => {
    const answer = await postForm(h, { filename: 'huge.bin', bytes: Buffer.alloc(LIMIT * 2, 1), contentLength: true });
    assertError(answer, 413, 'payload_too_large');
    assert.match(answer.body.error.message, /multipart flow/);
  });

  it('refuses a policy-refused type with 415 and keeps nothing', async () => {
    const { readFile } = await import('node:fs/promises');
    const elf = (await readFile(process.execPath)).subarray(0, 200 * 1024);
    const before = (await h.api('GET', '/api/v1/uploads/summary')).body.total_count;
    const filesBefore = await countBlobFiles(h);
    const answer = await postForm(h, { filename: 'tool', bytes: elf });
    assert.equal(answer.status, 415);
    assert.equal(answer.body.error.code, 'unsupported_media_type');
    assert.equal((await h.api('GET', '/api/v1/uploads/summary')).body.total_count, before);
    assert.equal(await countBlobFiles(h), filesBefore);
  });

  it('a retry of the same file under the same Idempotency-Key is replayed, though its form has a new boundary', async () => {
    const bytes = Buffer.from('sent twice\n');
    const send = () => postForm(h, { filename: 'retry.txt', bytes, contentLength: true, idempotencyKey: 'form-retry-1' });
    const first = await send();
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const second = await send();
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.equal(second.replayed, true);
    assert.equal(second.body.id, first.body.id, 'one upload, not two');
    const other = await postForm(h, {
      filename: 'retry.txt',
      bytes: Buffer.from('another file, longer\n'),
      contentLength: true,
      idempotencyKey: 'form-retry-1',
    });
    assertError(other, 409, 'conflict', 'the same key with another body');
  });

  it('needs the form field "file", a multipart body and the uploads:write scope', async () => {
    const wrongField = await postForm(h, { field: 'document', filename: 'a.txt', bytes: Buffer.from('a') });
    assert.equal(wrongField.status, 422);
    assert.equal(wrongField.body.error.details[0].path, 'body.file');
    const json = await h.api('POST', '/api/v1/uploads', { body: { name: 'a.txt' } });
    assert.equal(json.status, 400);
    assert.equal(json.body.error.code, 'bad_request');
    assert.match(json.body.error.message, /multipart\/form-data/);
    const text = await fetch(`${h.url}/api/v1/uploads`, {
      method: 'POST',
      headers: { 'x-api-key': h.keys.writer, 'content-type': 'text/plain' },
      body: 'just text',
    });
    assert.equal(text.status, 400);
    assert.equal((await text.json()).error.code, 'bad_request');
    const nameless = await postForm(h, { filename: null, bytes: Buffer.from('no name') });
    assert.equal(nameless.status, 422, JSON.stringify(nameless.body));
    assert.equal(nameless.body.error.details[0].path, 'body.file');
    const reader = await postForm(h, { filename: 'a.txt', bytes: Buffer.from('a'), key: h.keys.reader });
    assertError(reader, 403, 'insufficient_scope');
  });
});

/** Sends `body` whole (with its Content-Length) and answers what came back, or throws after `withinMs`. */
function sendRaw(url: string, headers: Record<string, string>, body: Buffer, withinMs: number) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (response) => {
      let text = '';
      response.on('data', (d) => (text += d));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
    });
    request.setTimeout(withinMs, () => request.destroy(new Error(`no answer within ${withinMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

describe('a form whose body ends without its closing boundary', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage();
  });
  after(() => h.close());

  const unclosed = Buffer.from('--XX\r\nContent-Disposition: form-data; name="file"; filename="t.txt"\r\n\r\nhello');

  async function revisionBase() {
    const key = h.keys.admin;
    const part = await h.api('POST', '/api/v1/parts/', { key, body: { part_number: `UNCLOSED-${Date.now()}` } });
    assert.equal(part.status, 201, JSON.stringify(part.body));
    const rev = await h.api('POST', `/api/v1/parts/${part.body.id}/revisions`, { key, body: { revision_code: 'A' } });
    assert.equal(rev.status, 201, JSON.stringify(rev.body));
    return `/api/v1/parts/${part.body.id}/revisions/${rev.body.id}/datasets`;
  }

  for (const route of ['simple upload', 'dataset upload'] as const) {
    it(`is answered 400 at once by the ${route}, keeping nothing`, async () => {
      const path_ = route === 'simple upload' ? '/api/v1/uploads' : `${await revisionBase()}/upload`;
      const before = (await h.api('GET', '/api/v1/uploads/summary')).body.total_count;
      const filesBefore = await countBlobFiles(h);
      const answer = await sendRaw(
        `${h.url}${path_}`,
        { 'x-api-key': h.keys.admin, 'content-type': 'multipart/form-data; boundary=XX' },
        unclosed,
        5000,
      );
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, 'bad_request');
      assert.equal((await h.api('GET', '/api/v1/uploads/summary')).body.total_count, before);
      assert.equal(await countBlobFiles(h), filesBefore, 'no blob and no temp file left behind');
    });
  }
});
