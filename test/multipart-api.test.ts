import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runSweep } from '../src/modules/sweeper/sweep-job.js';
import { assertError, assertInvalid } from './helpers/assertions.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { settle, sha256 } from './helpers/uploads.js';

const MIB = 1024 * 1024;
const PART = 5 * MIB;

/** A file of 2 full parts and a short last one, with a recognisable pattern. */
function fileBytes(): Buffer {
  const bytes = Buffer.alloc(2 * PART + 1234);
  for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32LE(i, i);
  return bytes;
}

describe('direct multipart uploads', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ STOWAGE_PENDING_TTL_SECONDS: '3600' });
  });
  after(() => h.close());

  const start = (body: Record<string, unknown>) => h.api('POST', '/api/v1/uploads/multipart', { body });
  const partUrls = async (id: string, numbers: number[]) =>
    (await h.api('POST', `/api/v1/uploads/${id}/parts`, { body: { part_numbers: numbers } })).body.parts;
  async function putPart(part: { url: string; headers: Record<string, string> }, bytes: Buffer) {
    const headers = Object.fromEntries(Object.entries(part.headers).filter(([n]) => n.toLowerCase() !== 'content-length'));
    const answer = await fetch(part.url, { method: 'PUT', headers, body: new Uint8Array(bytes) });
    assert.equal(answer.status, 200, await answer.clone().text());
    return (answer.headers.get('etag') ?? '').replace(/"/g, '');
  }
  const slice = (bytes: Buffer, n: number) => bytes.subarray((n - 1) * PART, n * PART);

  it('parts arrive out of order and in parallel, resume from GET parts, complete, confirm with the whole-file sha256', async () => {
    const bytes = fileBytes();
    const started = await start({ name: 'scan.bin', size_bytes: bytes.length, part_size: PART, sha256: sha256(bytes) });
    assert.equal(started.status, 200);
    assert.equal(started.body.part_size, PART);
    assert.equal(started.body.part_count, 3);
    const id = started.body.data_source_id;

    const urls = await partUrls(id, [3, 1, 2]);
    // The "first session" uploads parts 3 and 1 in parallel, then stops.
    await Promise.all([putPart(urls[0], slice(bytes, 3)), putPart(urls[1], slice(bytes, 1))]);
    const held = (await h.api('GET', `/api/v1/uploads/${id}/parts`)).body;
    assert.deepEqual(
      held.parts.map((p: { part_number: number }) => p.part_number),
      [1, 3],
    );
    assert.equal(held.parts[1].size_bytes, 1234);
    // The resumed client sends only what is missing.
    await putPart((await partUrls(id, [2]))[0], slice(bytes, 2));
    const all = (await h.api('GET', `/api/v1/uploads/${id}/parts`)).body.parts;
    assert.equal(all.length, 3);

    const early = await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: id } });
    assertError(early, 409, 'conflict', 'confirm waits for complete');

    const completed = await h.api('POST', `/api/v1/uploads/${id}/complete`, {
      body: { parts: all.map((p: { part_number: number; etag: string }) => ({ part_number: p.part_number, etag: p.etag })) },
    });
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    const { upload, job } = await settle(h, id, completed.body.job_id);
    assert.equal(job.status, 'succeeded');
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.size_bytes, bytes.length);
    assert.equal(upload.sha256, sha256(bytes));
    const again = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts: [{ part_number: 1, etag: 'x' }] } });
    assert.equal(again.body.job_id, completed.body.job_id, 'completing again answers the same job');
    const link = await h.api('GET', `/api/v1/uploads/${id}/download-url`);
    assert.ok(Buffer.from(await (await fetch(link.body.url)).arrayBuffer()).equals(bytes));
  });

  it('a completion retried after storage assembled the file (its node died before the row changed) finishes from the blob', async () => {
    // Bytes of its own: the same bytes as a confirmed upload would be deduplicated at the start.
    const bytes = Buffer.concat([fileBytes(), Buffer.from('assembled elsewhere')]);
    const started = await start({ name: 'assembled.bin', size_bytes: bytes.length, part_size: PART, sha256: sha256(bytes) });
    const id = started.body.data_source_id;
    const parts: { part_number: number; etag: string }[] = [];
    for (const url of await partUrls(id, [1, 2, 3]))
      parts.push({ part_number: url.part_number, etag: await putPart(url, slice(bytes, url.part_number)) });
    // What the dead node did: storage joined the parts and forgot the multipart upload; the row still names it.
    const { blob_key: blobKey, multipart_upload_id: uploadId } = await h.runtime.database.db
      .selectFrom('uploads')
      .select(['blob_key', 'multipart_upload_id'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    await h.runtime.blobs.completeMultipart(
      blobKey,
      uploadId!,
      parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })),
    );

    const completed = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts } });
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    const { upload, job } = await settle(h, id, completed.body.job_id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    assert.deepEqual([upload.status, upload.sha256], ['confirmed', sha256(bytes)]);
  });

  it('a completion whose multipart upload ended without a file (aborted) is still 404', async () => {
    const bytes = fileBytes();
    const id = (await start({ name: 'aborted.bin', size_bytes: bytes.length, part_size: PART })).body.data_source_id;
    const parts: { part_number: number; etag: string }[] = [];
    for (const url of await partUrls(id, [1, 2, 3]))
      parts.push({ part_number: url.part_number, etag: await putPart(url, slice(bytes, url.part_number)) });
    const row = await h.runtime.database.db
      .selectFrom('uploads')
      .select(['blob_key', 'multipart_upload_id'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    await h.runtime.blobs.abortMultipart(row.blob_key, row.multipart_upload_id!);
    assertError(await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts } }), 404, 'not_found');
  });

  it('refuses a wrong etag, a missing part and a wrong part size with 422, and still completes once fixed', async () => {
    const bytes = fileBytes();
    const id = (await start({ name: 'fixme.bin', size_bytes: bytes.length, part_size: PART })).body.data_source_id;
    const urls = await partUrls(id, [1, 2]);
    const e1 = await putPart(urls[0], slice(bytes, 1));
    const e2 = await putPart(urls[1], slice(bytes, 2));
    const missing = await h.api('POST', `/api/v1/uploads/${id}/complete`, {
      body: {
        parts: [
          { part_number: 1, etag: e1 },
          { part_number: 2, etag: e2 },
          { part_number: 3, etag: 'abc' },
        ],
      },
    });
    assertInvalid(missing, 'body.parts[2].part_number');
    assert.ok(
      missing.body.error.details.some(
        (d: { path: string; message: string }) => d.path === 'body.parts[2].part_number' && /not been uploaded/.test(d.message),
      ),
    );

    const e3 = await putPart((await partUrls(id, [3]))[0], slice(bytes, 3));
    const wrongEtag = await h.api('POST', `/api/v1/uploads/${id}/complete`, {
      body: {
        parts: [
          { part_number: 1, etag: e2 },
          { part_number: 2, etag: e2 },
          { part_number: 3, etag: e3 },
        ],
      },
    });
    assertInvalid(wrongEtag, 'body.parts[0].etag');
    assert.equal(wrongEtag.body.error.details[0].path, 'body.parts[0].etag');
    const short = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts: [{ part_number: 1, etag: e1 }] } });
    assertError(short, 422, 'validation_error', 'a list short of the declared total size');
    assert.equal((await h.api('GET', `/api/v1/uploads/${id}`)).body.status, 'pending', 'nothing changed');

    const done = await h.api('POST', `/api/v1/uploads/${id}/complete`, {
      body: {
        parts: [
          { part_number: 1, etag: `"${e1}"` },
          { part_number: 2, etag: e2 },
          { part_number: 3, etag: e3 },
        ],
      },
    });
    assert.equal(done.status, 200);
    const { upload } = await settle(h, id, done.body.job_id);
    assert.equal(upload.sha256, sha256(bytes));
  });

  it('a part URL is bound to its size: a short part is refused by storage or by complete', async () => {
    const id = (await start({ name: 'bound.bin', size_bytes: 2 * PART, part_size: PART })).body.data_source_id;
    const [url] = await partUrls(id, [1]);
    const headers = Object.fromEntries(
      Object.entries(url.headers as Record<string, string>).filter(([n]) => n.toLowerCase() !== 'content-length'),
    );
    const answer = await fetch(url.url, { method: 'PUT', headers, body: 'too short' });
    const refusal = await answer.text();
    // The harness's storage is the local driver or a real S3 engine, both of which check the signed size.
    if (h.config.storageDriver === 'local') {
      assert.equal(answer.status, 400, refusal);
      assert.equal(JSON.parse(refusal).error.code, 'bad_request');
    } else {
      assert.equal(answer.status, 403, `S3 finds the signed Content-Length changed: ${refusal}`);
    }
    assert.deepEqual((await h.api('GET', `/api/v1/uploads/${id}/parts`)).body.parts, [], 'nothing was stored');
  });

  it('validates the start: size limit, part size bounds, the 10,000-part cap', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'a.bin', size_bytes: 251 * 1024 ** 3 }, 'body.size_bytes'],
      [{ name: 'a.bin', size_bytes: 100, part_size: 1024 }, 'body.part_size'],
      [{ name: 'a.bin', size_bytes: 100 * 1024 ** 3, part_size: PART }, 'body.part_size'],
      [{ name: 'a.bin' }, 'body.size_bytes'],
      [{ name: 'a.bin', size_bytes: 0 }, 'body.size_bytes'],
    ];
    for (const [body, path] of cases) {
      assertInvalid(await start(body), path, JSON.stringify(body));
    }
    const big = await start({ name: 'huge.bin', size_bytes: 250 * 1024 ** 3 });
    assert.equal(big.status, 200);
    assert.ok(big.body.part_count <= 10_000);
    assert.ok(big.body.part_size * big.body.part_count >= 250 * 1024 ** 3);
    const outOfRange = await h.api('POST', `/api/v1/uploads/${big.body.data_source_id}/parts`, {
      body: { part_numbers: [big.body.part_count + 1] },
    });
    assertError(outOfRange, 422, 'validation_error', 'a part number past the part count');
    await h.api('POST', `/api/v1/uploads/${big.body.data_source_id}/cancel`);
  });

  it('cancel frees the parts; the sweeper aborts abandoned ones; other orgs see 404', async () => {
    const bytes = fileBytes();
    const id = (await start({ name: 'dropped.bin', size_bytes: bytes.length, part_size: PART })).body.data_source_id;
    await putPart((await partUrls(id, [1]))[0], slice(bytes, 1));
    for (const [method, route] of [
      ['GET', `/api/v1/uploads/${id}/parts`],
      ['POST', `/api/v1/uploads/${id}/complete`],
    ]) {
      const foreign = await h.api(method, route, {
        key: h.keys.otherOrg,
        body: method === 'POST' ? { parts: [{ part_number: 1, etag: 'x' }] } : undefined,
      });
      assertError(foreign, 404, 'not_found', `${method} ${route}`);
    }
    assert.equal((await h.api('POST', `/api/v1/uploads/${id}/cancel`)).status, 200);
    assertError(await h.api('GET', `/api/v1/uploads/${id}/parts`), 409, 'conflict', 'a cancelled upload takes no parts');

    const abandoned = (await start({ name: 'abandoned.bin', size_bytes: bytes.length, part_size: PART })).body.data_source_id;
    await putPart((await partUrls(abandoned, [1]))[0], slice(bytes, 1));
    await h.runtime.database.db
      .updateTable('uploads')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', abandoned)
      .execute();
    const row = await h.runtime.database.db.selectFrom('uploads').selectAll().where('id', '=', abandoned).executeTakeFirstOrThrow();
    await runSweep({ ...h.runtime, db: h.runtime.database.db, log: h.runtime.logger });
    assert.equal((await h.api('GET', `/api/v1/uploads/${abandoned}`)).body.failure_reason, 'expired');
    // The harness's storage (local, or a real S3 engine) lists parts, so their absence is shown on both.
    await assert.rejects(
      h.runtime.blobs.listParts(row.blob_key, row.multipart_upload_id!),
      { name: 'BlobError', kind: 'missing' },
      'the parts are gone',
    );
  });

  /** Bytes no other test uploads (a repeat would be deduplicated), cut into parts and all of them sent. */
  async function sendAll(label: string) {
    const bytes = Buffer.concat([fileBytes(), Buffer.from(label)]);
    const id = (await start({ name: `${label}.bin`, size_bytes: bytes.length, part_size: PART })).body.data_source_id as string;
    const parts: { part_number: number; etag: string }[] = [];
    for (const url of await partUrls(id, [1, 2, 3]))
      parts.push({ part_number: url.part_number, etag: await putPart(url, slice(bytes, url.part_number)) });
    return { bytes, id, parts };
  }

  it('a sha256 declared at complete is checked by the confirm job: the right one confirms, another fails checksum_mismatch', async () => {
    const right = await sendAll('late-right');
    const done = await h.api('POST', `/api/v1/uploads/${right.id}/complete`, { body: { parts: right.parts, sha256: sha256(right.bytes) } });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const confirmed = await settle(h, right.id, done.body.job_id);
    assert.deepEqual([confirmed.upload.status, confirmed.upload.sha256], ['confirmed', sha256(right.bytes)]);

    const wrong = await sendAll('late-wrong');
    const claimed = sha256('some other bytes').toUpperCase();
    const failed = await h.api('POST', `/api/v1/uploads/${wrong.id}/complete`, { body: { parts: wrong.parts, sha256: claimed } });
    assert.equal(failed.status, 200, JSON.stringify(failed.body));
    const verdict = await settle(h, wrong.id, failed.body.job_id);
    assert.deepEqual([verdict.upload.status, verdict.upload.failure_reason], ['failed', 'checksum_mismatch']);
    assert.equal(verdict.job.status, 'failed');

    // A hash other than the one declared at start is refused before anything is assembled.
    const bytes = Buffer.concat([fileBytes(), Buffer.from('declared at start')]);
    const id = (await start({ name: 'both.bin', size_bytes: bytes.length, part_size: PART, sha256: sha256(bytes) })).body.data_source_id;
    const parts: { part_number: number; etag: string }[] = [];
    for (const url of await partUrls(id, [1, 2, 3]))
      parts.push({ part_number: url.part_number, etag: await putPart(url, slice(bytes, url.part_number)) });
    const other = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts, sha256: sha256('not this file') } });
    assertError(other, 409, 'conflict', 'another sha256 than the declared one');
    assert.equal(other.body.error.details.sha256, sha256(bytes));
    assert.equal((await h.api('GET', `/api/v1/uploads/${id}/parts`)).body.parts.length, 3, 'still taking parts: nothing assembled');
    const same = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts, sha256: sha256(bytes) } });
    assert.equal((await settle(h, id, same.body.job_id)).upload.status, 'confirmed');
    const replay = await h.api('POST', `/api/v1/uploads/${right.id}/complete`, { body: { parts: right.parts, sha256: claimed } });
    assertError(replay, 409, 'conflict', 'completing again with another sha256');
  });

  it('POST …/sha256 answers a deduplicated upload when the org holds those bytes, and drops the parts sent so far', async () => {
    const first = await sendAll('dedup-late');
    const job = (await h.api('POST', `/api/v1/uploads/${first.id}/complete`, { body: { parts: first.parts } })).body.job_id;
    assert.equal((await settle(h, first.id, job)).upload.status, 'confirmed');

    const bytes = first.bytes;
    const id = (await start({ name: 'again.bin', size_bytes: bytes.length, part_size: PART })).body.data_source_id;
    const [one, two] = await partUrls(id, [1, 2]);
    await putPart(one, slice(bytes, 1));
    const before = (await h.api('GET', '/api/v1/uploads/summary')).body;
    const answer = await h.api('POST', `/api/v1/uploads/${id}/sha256`, { body: { sha256: sha256(bytes) } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(
      [answer.body.id, answer.body.status, answer.body.deduplicated, answer.body.sha256, answer.body.size_bytes],
      [id, 'confirmed', true, sha256(bytes), bytes.length],
    );
    assertError(await h.api('GET', `/api/v1/uploads/${id}/parts`), 409, 'conflict', 'a deduplicated upload takes no parts');
    const late = await fetch(two.url, { method: 'PUT', body: new Uint8Array(slice(bytes, 2)) });
    assert.ok(!late.ok, `a part sent after the answer is refused (${late.status})`);
    const completed = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts: first.parts } });
    assert.equal(completed.status, 200, 'completing it anyway answers its job');
    assert.equal((await h.api('GET', `/api/v1/jobs/${completed.body.job_id}`)).body.status, 'succeeded');
    const link = await h.api('GET', `/api/v1/uploads/${id}/download-url`);
    assert.ok(Buffer.from(await (await fetch(link.body.url)).arrayBuffer()).equals(bytes), 'it reads the bytes it shares');
    const after = (await h.api('GET', '/api/v1/uploads/summary')).body;
    assert.equal(after.pending_bytes, before.pending_bytes - bytes.length, 'no longer held as pending');
    assert.equal(after.by_status.confirmed, before.by_status.confirmed + 1);
  });

  it('POST …/sha256 without a match records the hash, which the confirm job then checks; refusals change nothing', async () => {
    const bytes = Buffer.concat([fileBytes(), Buffer.from('recorded')]);
    const id = (await start({ name: 'recorded.bin', size_bytes: bytes.length, part_size: PART })).body.data_source_id;
    const route = `/api/v1/uploads/${id}/sha256`;
    const claimed = sha256('what the client wrongly hashed');
    assertInvalid(await h.api('POST', route, { body: { sha256: 'abc' } }), 'body.sha256');
    assertError(await h.api('POST', route, { body: { sha256: claimed }, key: h.keys.reader }), 403, 'insufficient_scope');
    assertError(await h.api('POST', route, { body: { sha256: claimed }, key: h.keys.otherOrg }), 404, 'not_found');
    const recorded = await h.api('POST', route, { body: { sha256: claimed } });
    assert.equal(recorded.status, 200, JSON.stringify(recorded.body));
    assert.deepEqual([recorded.body.status, recorded.body.deduplicated], ['pending', false]);
    assert.equal((await h.api('POST', route, { body: { sha256: claimed.toUpperCase() } })).status, 200, 'the same hash again is fine');
    assertError(await h.api('POST', route, { body: { sha256: sha256(bytes) } }), 409, 'conflict', 'another hash');

    const parts: { part_number: number; etag: string }[] = [];
    for (const url of await partUrls(id, [1, 2, 3]))
      parts.push({ part_number: url.part_number, etag: await putPart(url, slice(bytes, url.part_number)) });
    const job = (await h.api('POST', `/api/v1/uploads/${id}/complete`, { body: { parts } })).body.job_id;
    const { upload } = await settle(h, id, job);
    assert.deepEqual([upload.status, upload.failure_reason], ['failed', 'checksum_mismatch'], 'the recorded hash was checked');
    assertError(await h.api('POST', route, { body: { sha256: claimed } }), 409, 'conflict', 'a failed upload takes no hash');

    const presigned = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'small.txt' } });
    const notMultipart = await h.api('POST', `/api/v1/uploads/${presigned.body.data_source_id}/sha256`, { body: { sha256: claimed } });
    assertError(notMultipart, 409, 'conflict', 'a presigned upload');
  });

  it('a multipart start with the sha256 of confirmed bytes is deduplicated at once', async () => {
    const form = new FormData();
    form.append('file', new Blob(['already here']), 'here.txt');
    await fetch(`${h.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': h.keys.writer }, body: form });
    const answer = await start({ name: 'here-again.txt', size_bytes: 12, sha256: sha256('already here') });
    assert.equal(answer.body.deduplicated, true);
    assert.equal(answer.body.part_count, 0);
    assert.equal((await h.api('GET', `/api/v1/uploads/${answer.body.data_source_id}`)).body.status, 'confirmed');
  });
});
