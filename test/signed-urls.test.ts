import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { BlobUrlSigner } from '../src/blobs/signed-url.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { type Presigned, confirm, presign, putBytes, settle, sha256, uploadConfirmed } from './helpers/uploads.js';
import { firstPassOnly } from './helpers/ci-pass.js';

interface BlobAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function blob(url: string, init: RequestInit = {}): Promise<BlobAnswer> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** The SPEC error envelope, its request_id echoing the X-Request-Id header. */
function assertError(answer: BlobAnswer, status: number, code: string, what = '') {
  assert.equal(answer.status, status, `${what}: ${answer.body.toString()}`);
  const { error } = JSON.parse(answer.body.toString());
  assert.equal(error.code, code, what);
  assert.equal(error.request_id, answer.headers.get('x-request-id'), what);
  assert.equal(typeof error.message, 'string');
  return error;
}

/** A refused HEAD has no body to hold the envelope; its status and X-Request-Id still say it. */
function assertHeadRefused(answer: BlobAnswer, status: number, what: string) {
  assert.equal(answer.status, status, what);
  assert.ok(answer.headers.get('x-request-id'), `${what}: X-Request-Id`);
  assert.equal(answer.body.length, 0, what);
}

/** The token with one character of its payload (0) or signature (1) part replaced. */
function tamper(url: string, part: 0 | 1): string {
  const [base, token] = url.split('/blob/');
  const parts = token.split('.');
  const i = Math.floor(parts[part].length / 2);
  const replacement = parts[part][i] === 'A' ? 'B' : 'A';
  parts[part] = parts[part].slice(0, i) + replacement + parts[part].slice(i + 1);
  return `${base}/blob/${parts.join('.')}`;
}

/** A PUT whose Content-Length header says what we choose, whatever the body holds. */
function rawPut(url: string, contentLength: number, body: Buffer): Promise<BlobAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'PUT', headers: { 'content-length': String(contentLength) } }, (response) =>
      resolve(blobAnswerOf(response)),
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A node:http response read whole, in the shape `blob()` answers. */
function blobAnswerOf(response: http.IncomingMessage): Promise<BlobAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    response.on('data', (c: Buffer) => chunks.push(c));
    response.on('end', () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(response.headers)) if (typeof v === 'string') headers.set(k, v);
      resolve({ status: response.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
    });
  });
}

/** A body sent chunked, with no Content-Length: only the store itself can count its bytes. */
const chunked = (bytes: Buffer) =>
  ({
    method: 'PUT',
    body: new ReadableStream({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    }),
    duplex: 'half',
  }) as RequestInit;

/** These URLs are the local driver's own (S3 answers its presigned URLs itself). */
const LOCAL = { storage: 'local' } as const;

describe('signed blob URLs (local driver)', { skip: firstPassOnly }, () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({}, LOCAL);
  });
  after(() => h.close());

  const stored = (id: string) => h.runtime.blobs.stat(`${h.orgId}/${id}`);
  async function assertNothingStored(id: string) {
    assert.equal(await stored(id), null, 'no blob at the key');
    assert.deepEqual(await readdir(path.join(h.dataDir, 'blobs', '.tmp')), [], 'no temporary file left behind');
    const { upload } = await settle(h, id, await confirm(h, id));
    assert.equal(upload.status, 'failed');
    assert.equal(upload.failure_reason, 'object_missing');
  }
  const downloadUrl = async (id: string) => (await h.api('GET', `/api/v1/uploads/${id}/download-url`)).body.url as string;

  it('a tampered, foreign-signed or malformed token is 403 signature_invalid and stores nothing', async () => {
    const bytes = Buffer.from('tamper-proof');
    const p = await presign(h, { name: 't.txt', size_bytes: bytes.length, sha256: sha256(bytes) });
    const [base, token] = p.url.split('/blob/');
    const forged = new BlobUrlSigner('not-the-secret').sign({ method: 'PUT', key: `${h.orgId}/${p.data_source_id}`, exp: 2 ** 31 });
    for (const [what, url] of [
      ['payload flipped', tamper(p.url, 0)],
      ['signature flipped', tamper(p.url, 1)],
      ['signed with another secret', `${base}/blob/${forged}`],
      ['no signature', `${base}/blob/${token.split('.')[0]}`],
      ['extra part', `${p.url}.x`],
    ]) {
      assertError(await blob(url, { method: 'PUT', body: bytes }), 403, 'signature_invalid', what);
    }
    await assertNothingStored(p.data_source_id);

    const done = await uploadConfirmed(h, 'd.txt', 'download me');
    const url = await downloadUrl(done.id);
    assert.equal((await blob(url)).status, 200);
    for (const part of [0, 1] as const) assertError(await blob(tamper(url, part)), 403, 'signature_invalid', `GET part ${part}`);
  });

  it('a token is good for its own method only', async () => {
    const done = await uploadConfirmed(h, 'm.txt', 'original');
    const get = await downloadUrl(done.id);
    assertError(await blob(get, { method: 'PUT', body: 'replaced' }), 403, 'signature_invalid', 'download token used to PUT');
    assert.equal((await blob(get)).body.toString(), 'original', 'the blob was not replaced');

    const p = await presign(h, { name: 'u.txt' });
    assertError(await blob(p.url), 403, 'signature_invalid', 'upload token used to GET');
    assertHeadRefused(await blob(p.url, { method: 'HEAD' }), 403, 'upload token used for HEAD');
    assertError(await blob(p.url, { method: 'DELETE' }), 404, 'not_found', 'no other method exists on a blob URL');
  });

  it('a body of another size than declared is refused and nothing is stored', async () => {
    const p = await presign(h, { name: 's.bin', size_bytes: 10 });
    for (const body of ['123456789', '12345678901']) {
      const error = assertError(await blob(p.url, { method: 'PUT', body }), 400, 'bad_request', `${body.length} bytes`);
      assert.match(error.message, /Content-Length/);
    }
    const short = assertError(await blob(p.url, chunked(Buffer.from('123456789'))), 400, 'bad_request', 'chunked, short');
    assert.deepEqual(short.details, { reason: 'size_mismatch' });
    const long = await blob(p.url, chunked(Buffer.from('12345678901')));
    assertError(long, 413, 'payload_too_large', 'chunked, longer than declared');
    await assertNothingStored(p.data_source_id);
  });

  it('a Content-Length header other than the declared size is refused before the body is read', async () => {
    const p = await presign(h, { name: 'cl.bin', size_bytes: 10 });
    const answer = await rawPut(p.url, 1_000_000, Buffer.from('0123456789'));
    const error = assertError(answer, 400, 'bad_request');
    assert.match(error.message, /Content-Length 1000000 differs from the 10 bytes/);
    await assertNothingStored(p.data_source_id);
  });

  it('bytes that do not match the declared sha256 are refused and nothing is stored', async () => {
    const p = await presign(h, { name: 'h.bin', size_bytes: 5, sha256: sha256('right') });
    const error = assertError(await blob(p.url, { method: 'PUT', body: 'wrong' }), 400, 'bad_request', 'checksum');
    assert.deepEqual(error.details, { reason: 'checksum_mismatch' });
    await assertNothingStored(p.data_source_id);
  });

  it('a second PUT to a used URL is 409 conflict and the stored bytes stay as they were', async () => {
    const p = await presign(h, { name: 'once.txt', size_bytes: 5 });
    const first = await putBytes(p, 'first');
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { size_bytes: 5, sha256: sha256('first') });
    assert.equal(first.headers.get('etag'), `"${sha256('first')}"`);
    for (const body of ['other', 'first']) {
      const again = await blob(p.url, { method: 'PUT', body });
      assertError(again, 409, 'conflict', `second PUT of "${body}"`);
    }
    const { upload } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.sha256, sha256('first'));
    assert.equal((await blob(await downloadUrl(p.data_source_id))).body.toString(), 'first');
  });

  it('a URL signed for a Content-Type refuses another one, as S3 does, and stores nothing', async () => {
    const p = await presign(h, { name: 'typed.txt', content_type: 'text/plain', size_bytes: 5 });
    assert.deepEqual(p.headers, { 'Content-Type': 'text/plain' });
    for (const type of ['application/octet-stream', 'text/plain; charset=utf-8']) {
      const answer = await blob(p.url, { method: 'PUT', headers: { 'content-type': type }, body: new Uint8Array(Buffer.from('typed')) });
      assertError(answer, 403, 'signature_invalid', type);
    }
    assertError(
      await blob(p.url, { method: 'PUT', body: new Uint8Array(Buffer.from('typed')) }),
      403,
      'signature_invalid',
      'no Content-Type',
    );
    await assertNothingStored(p.data_source_id);
    const signed = await putBytes(await presign(h, { name: 'typed2.txt', content_type: 'text/plain', size_bytes: 5 }), 'typed');
    assert.equal(signed.status, 200, 'with the signed header it goes through');
  });

  it('the URL of a cancelled or expired upload takes no bytes: 409, nothing stored', async () => {
    const cancelled = await presign(h, { name: 'gone.txt', size_bytes: 4 });
    assert.equal((await h.api('POST', `/api/v1/uploads/${cancelled.data_source_id}/cancel`)).status, 200);
    const late = await blob(cancelled.url, { method: 'PUT', body: 'late' });
    assert.equal(assertError(late, 409, 'conflict', 'cancelled').details.status, 'cancelled');
    assert.equal(await stored(cancelled.data_source_id), null, 'no blob for a cancelled upload');
    const chunkedLate = await blob(cancelled.url, chunked(Buffer.from('late')));
    assertError(chunkedLate, 409, 'conflict', 'cancelled, chunked');

    // Past its expiry the sweeper has not failed yet: the URL (longer-lived here) still must not take bytes.
    const expired = await presign(h, { name: 'old.txt' });
    await h.runtime.database.db
      .updateTable('uploads')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('id', '=', expired.data_source_id)
      .execute();
    assert.equal(
      assertError(await blob(expired.url, { method: 'PUT', body: 'old' }), 409, 'conflict', 'expired').details.status,
      'expired',
    );
    assert.equal(await stored(expired.data_source_id), null);
    assert.deepEqual(await readdir(path.join(h.dataDir, 'blobs', '.tmp')), [], 'no temporary file left behind');

    const started = await h.api('POST', '/api/v1/uploads/multipart', { body: { name: 'parts.bin', size_bytes: 10 } });
    const id = started.body.data_source_id;
    const [part] = (await h.api('POST', `/api/v1/uploads/${id}/parts`, { body: { part_numbers: [1] } })).body.parts;
    assert.equal((await h.api('POST', `/api/v1/uploads/${id}/cancel`)).status, 200);
    assertError(await blob(part.url, { method: 'PUT', body: '0123456789' }), 409, 'conflict', 'part of a cancelled upload');
  });

  it('bytes still streaming when their upload is cancelled are not kept: 409, nothing stored', async () => {
    const p = await presign(h, { name: 'midway.bin', size_bytes: 6 });
    const answer = new Promise<BlobAnswer>((resolve, reject) => {
      const request = http.request(p.url, { method: 'PUT', headers: { 'content-length': '6' } }, (response) =>
        resolve(blobAnswerOf(response)),
      );
      request.on('error', reject);
      request.write('half');
      // The PUT was admitted and is writing: its temporary file exists. Then the upload is cancelled.
      eventually(async () => ((await readdir(path.join(h.dataDir, 'blobs', '.tmp'))).length ? true : undefined), 'the PUT to start writing')
        .then(() => h.api('POST', `/api/v1/uploads/${p.data_source_id}/cancel`))
        .then((cancelled) => {
          assert.equal(cancelled.body.status, 'cancelled');
          request.end('!!');
        }, reject);
    });
    const refused = assertError(await answer, 409, 'conflict', 'cancelled mid-PUT');
    assert.equal(refused.details.status, 'cancelled');
    assert.equal(await stored(p.data_source_id), null, 'the bytes were removed');
  });

  it('downloads honour Range and HEAD', async () => {
    const done = await uploadConfirmed(h, 'digits.txt', '0123456789');
    const url = await downloadUrl(done.id);
    const ranged = async (range: string) => blob(url, { headers: { range } });
    const cases: [string, string, string][] = [
      ['bytes=2-5', 'bytes 2-5/10', '2345'],
      ['bytes=-3', 'bytes 7-9/10', '789'],
      ['bytes=7-', 'bytes 7-9/10', '789'],
      ['bytes=8-100', 'bytes 8-9/10', '89'],
    ];
    for (const [range, contentRange, body] of cases) {
      const answer = await ranged(range);
      assert.equal(answer.status, 206, range);
      assert.equal(answer.headers.get('content-range'), contentRange, range);
      assert.equal(answer.headers.get('content-length'), String(body.length), range);
      assert.equal(answer.body.toString(), body, range);
    }
    for (const range of ['bytes=10-', 'bytes=50-60', 'bytes=-0']) {
      const answer = await ranged(range);
      assertError(answer, 416, 'range_not_satisfiable', range);
      assert.equal(answer.headers.get('content-range'), 'bytes */10', range);
    }
    const whole = await blob(url);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal(whole.body.toString(), '0123456789');

    const head = await blob(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '10');
    assert.equal(head.body.length, 0);
  });

  it('streams a 64 MiB PUT through to a confirmed upload with the declared sha256', async () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 'stowage streams bytes to disk; ');
    const digest = sha256(big);
    const p = await presign(h, { name: 'big.bin', size_bytes: big.length, sha256: digest });
    const put = await putBytes(p, big);
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { size_bytes: big.length, sha256: digest });
    const { upload } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.sha256, digest);
    assert.equal(upload.size_bytes, big.length);

    const download = await fetch(await downloadUrl(p.data_source_id));
    const hash = createHash('sha256');
    for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
    assert.equal(hash.digest('hex'), digest, 'the download gives back the same bytes');
  });
});

describe('signed blob URLs without a declared size', { skip: firstPassOnly }, () => {
  const LIMIT = 1024 * 1024;
  let h: Harness;
  before(async () => {
    h = await startStowage({ STOWAGE_SINGLE_REQUEST_MAX_BYTES: String(LIMIT) }, LOCAL);
  });
  after(() => h.close());

  it('are held to the single-request limit: 413 whether or not a Content-Length says so, nothing kept', async () => {
    const tooBig = Buffer.alloc(3 * LIMIT, 1);
    const p = await presign(h, { name: 'undeclared.bin' });
    const declared = await blob(p.url, { method: 'PUT', body: new Uint8Array(tooBig) });
    assertError(declared, 413, 'payload_too_large', 'with Content-Length');
    assertError(await blob(p.url, chunked(tooBig)), 413, 'payload_too_large', 'chunked');
    assert.equal(await h.runtime.blobs.stat(`${h.orgId}/${p.data_source_id}`), null, 'no blob');
    assert.deepEqual(await readdir(path.join(h.dataDir, 'blobs', '.tmp')), [], 'no temporary file left behind');

    const atLimit = Buffer.alloc(LIMIT, 2);
    const fits = await blob(p.url, chunked(atLimit));
    assert.equal(fits.status, 200, fits.body.toString());
    const { upload } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.size_bytes, LIMIT);
  });
});

describe('signed blob URLs expire', { skip: firstPassOnly }, () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ STOWAGE_PRESIGN_TTL_SECONDS: '1', STOWAGE_DOWNLOAD_TTL_SECONDS: '1' }, LOCAL);
  });
  after(() => h.close());

  it('an expired upload or download URL is 403 url_expired', async () => {
    const p: Presigned = await presign(h, { name: 'late.txt', size_bytes: 4 });
    assert.equal(p.expires_in, 1);
    // A confirmed upload whose bytes went straight into storage: its presigned PUT would expire too fast.
    const q = await presign(h, { name: 'dl.txt' });
    await h.runtime.blobs.put(`${h.orgId}/${q.data_source_id}`, Readable.from([Buffer.from('data')]));
    assert.equal((await settle(h, q.data_source_id, await confirm(h, q.data_source_id))).upload.status, 'confirmed');
    const link = await h.api('GET', `/api/v1/uploads/${q.data_source_id}/download-url`);
    assert.equal(link.body.expires_in, 1);

    // The download URL was signed after the upload URL: once it is refused, so must the upload URL be.
    await eventually(async () => ((await blob(link.body.url)).status === 403 ? true : undefined), 'the download URL to expire', 5_000);
    assertError(await blob(p.url, { method: 'PUT', body: 'late' }), 403, 'url_expired', 'PUT');
    assertError(await blob(link.body.url), 403, 'url_expired', 'GET');
    assertHeadRefused(await blob(link.body.url, { method: 'HEAD' }), 403, 'HEAD');
    assert.equal(await h.runtime.blobs.stat(`${h.orgId}/${p.data_source_id}`), null, 'nothing stored');
    const { upload } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
    assert.equal(upload.failure_reason, 'object_missing');
  });
});
