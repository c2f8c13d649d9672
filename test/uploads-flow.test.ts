import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { runSweep } from '../src/modules/sweeper/sweep-job.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { confirm, presign, putBytes, settle, sha256, uploadConfirmed } from './helpers/uploads.js';
import { assertError, assertInvalid } from './helpers/assertions.js';

describe('the presigned upload flow', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage();
  });
  after(() => h.close());

  it('presign → PUT → confirm → confirmed → download gives back the same bytes', async () => {
    const bytes = Buffer.from('%PDF-1.7\n' + 'x'.repeat(5000));
    const p = await presign(h, { name: 'drawing.pdf', content_type: 'application/pdf', size_bytes: bytes.length, sha256: sha256(bytes) });
    assert.match(p.data_source_id, /^[0-9a-f-]{36}$/);
    assert.equal(p.method, 'PUT');
    assert.equal(p.headers?.['Content-Type'], 'application/pdf', 'the declared type is part of the signed request');
    assert.equal(p.expires_in, 3600);

    const pending = await h.api('GET', `/api/v1/uploads/${p.data_source_id}`);
    assert.equal(pending.body.status, 'pending');
    assert.equal(pending.body.sha256, null);
    assert.equal(pending.body.size_bytes, null);

    const put = await putBytes(p, bytes);
    assert.equal(put.status, 200);
    const jobId = await confirm(h, p.data_source_id);
    assert.equal(await confirm(h, p.data_source_id), jobId, 'confirming again returns the same job');

    const { job, upload } = await settle(h, p.data_source_id, jobId);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.kind, 'confirm');
    assert.equal(job.attempts, 1);
    assert.ok(job.finished_at);
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.sha256, sha256(bytes));
    assert.equal(upload.size_bytes, bytes.length);
    assert.equal(upload.detected_content_type, 'application/pdf');
    assert.ok(upload.confirmed_at);
    assert.equal(await confirm(h, p.data_source_id), jobId, 'confirming a confirmed upload returns its job');

    const link = await h.api('GET', `/api/v1/uploads/${p.data_source_id}/download-url`);
    assert.equal(link.status, 200);
    const download = await fetch(link.body.url);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'application/pdf');
    assert.match(download.headers.get('content-disposition') ?? '', /filename="drawing.pdf"/);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);

    const ranged = await fetch(link.body.url, { headers: { range: 'bytes=0-7' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 0-7/${bytes.length}`);
    assert.equal(await ranged.text(), '%PDF-1.7');
  });

  it('presign without size or sha256 still confirms, measuring both', async () => {
    const p = await presign(h, { name: 'notes.txt' });
    assert.equal((await putBytes(p, 'hello world\n')).status, 200);
    const { upload } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.size_bytes, 12);
    assert.equal(upload.sha256, sha256('hello world\n'));
    assert.equal(upload.detected_content_type, 'text/plain');
  });

  it('presign takes explicit nulls as "not declared", never as 0 or an empty string', async () => {
    const p = await presign(h, { name: 'nulls.txt', size_bytes: null, sha256: null, content_type: null });
    const answer = await putBytes(p, 'any length at all');
    assert.equal(answer.status, 200, await answer.text());
    const jobId = await confirm(h, p.data_source_id);
    const { upload } = await settle(h, p.data_source_id, jobId);
    assert.equal(upload.status, 'confirmed', JSON.stringify(upload));
    assert.equal(upload.size_bytes, 'any length at all'.length);
  });

  it('presign/batch answers one presigned request per file, in order', async () => {
    const answer = await h.api('POST', '/api/v1/uploads/presign/batch', {
      body: { files: [{ name: 'a.step', size_bytes: 10 }, { name: 'b.stl' }, { name: 'c.pdf', content_type: 'application/pdf' }] },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.files.length, 3);
    const names = await Promise.all(
      answer.body.files.map(async (f: { data_source_id: string }) => (await h.api('GET', `/api/v1/uploads/${f.data_source_id}`)).body.name),
    );
    assert.deepEqual(names, ['a.step', 'b.stl', 'c.pdf']);
  });

  it('presign/batch rejects the whole batch when one file is invalid, naming it', async () => {
    const before = (await h.api('GET', '/api/v1/uploads/summary')).body.total_count;
    const answer = await h.api('POST', '/api/v1/uploads/presign/batch', {
      body: { files: [{ name: 'ok.txt' }, { name: 'big.bin', size_bytes: 6 * 1024 ** 3 }] },
    });
    assert.equal(answer.status, 422);
    assert.equal(answer.body.error.code, 'validation_error');
    assert.equal(answer.body.error.details[0].path, 'body.files[1].size_bytes');
    assert.match(answer.body.error.details[0].message, /multipart/);
    assert.equal((await h.api('GET', '/api/v1/uploads/summary')).body.total_count, before, 'nothing was created');
  });

  it('presign/batch caps the batch at 100 files', async () => {
    const files = Array.from({ length: 101 }, (_, i) => ({ name: `f${i}.txt` }));
    const answer = await h.api('POST', '/api/v1/uploads/presign/batch', { body: { files } });
    assert.equal(answer.status, 422);
    assert.equal(answer.body.error.details[0].path, 'body.files');
  });

  it('presign validates its body with paths in details', async () => {
    const cases: [unknown, string][] = [
      [{}, 'body.name'],
      [{ name: '' }, 'body.name'],
      [{ name: 'a/b.txt' }, 'body.name'],
      [{ name: 'a.txt', size_bytes: -1 }, 'body.size_bytes'],
      [{ name: 'a.txt', size_bytes: 'ten' }, 'body.size_bytes'],
      [{ name: 'a.txt', sha256: 'abc' }, 'body.sha256'],
      [{ name: 'a.txt', content_type: 'not a type' }, 'body.content_type'],
      [{ name: 'a.txt', size_bytes: 5 * 1024 ** 3 + 1 }, 'body.size_bytes'],
      [{ name: 'a.txt', surprise: true }, 'body.surprise'],
    ];
    for (const [body, path] of cases) {
      const answer = await h.api('POST', '/api/v1/uploads/presign', { body });
      assert.equal(answer.status, 422, JSON.stringify(body));
      assert.equal(answer.body.error.code, 'validation_error');
      assert.ok(
        answer.body.error.details.some((d: { path: string }) => d.path === path),
        `${JSON.stringify(body)} → ${JSON.stringify(answer.body.error.details)}`,
      );
    }
  });

  it('malformed JSON and a wrong content type are 400 bad_request', async () => {
    const broken = await h.api('POST', '/api/v1/uploads/presign', { body: '{"name":' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.error.code, 'bad_request');
    const wrongType = await h.api('POST', '/api/v1/uploads/presign', {
      body: 'name=a',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.error.code, 'bad_request');
  });

  it('lists newest first with count, limit and offset; cancelled hidden unless an admin asks', async () => {
    const first = await uploadConfirmed(h, 'first.txt', 'one');
    const second = await presign(h, { name: 'second.txt' });
    const third = await presign(h, { name: 'third.txt' });
    assert.equal((await h.api('POST', `/api/v1/uploads/${third.data_source_id}/cancel`)).status, 200);

    const page = await h.api('GET', '/api/v1/uploads/?limit=2');
    assert.equal(page.status, 200);
    assert.equal(page.body.data.length, 2);
    assert.equal(page.body.data[0].id, second.data_source_id, 'newest visible first; the cancelled one is hidden');
    const all = await h.api('GET', '/api/v1/uploads/?limit=200');
    assert.equal(all.body.count, all.body.data.length);
    assert.ok(!all.body.data.some((u: { id: string }) => u.id === third.data_source_id));
    assert.ok(all.body.data.some((u: { id: string }) => u.id === first.id));
    const offset = await h.api('GET', '/api/v1/uploads?limit=1&offset=1');
    assert.equal(offset.body.data[0].id, page.body.data[1].id);

    const denied = await h.api('GET', '/api/v1/uploads/?include_cancelled=true');
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'insufficient_scope');
    const audit = await h.api('GET', '/api/v1/uploads/?include_cancelled=true&limit=200', { key: h.keys.admin });
    assert.equal(audit.status, 200);
    assert.ok(audit.body.data.some((u: { id: string; status: string }) => u.id === third.data_source_id && u.status === 'cancelled'));
    assert.equal(audit.body.count, all.body.count + 1);

    assertInvalid(await h.api('GET', '/api/v1/uploads/?limit=0'), 'querystring.limit');
    assertInvalid(await h.api('GET', '/api/v1/uploads/?limit=201'), 'querystring.limit');
  });

  it('summary counts by status and content type and sums confirmed bytes', async () => {
    const before = (await h.api('GET', '/api/v1/uploads/summary')).body;
    await uploadConfirmed(h, 'sum.json', '{"a": 1}');
    const after = (await h.api('GET', '/api/v1/uploads/summary')).body;
    assert.equal(after.total_count, before.total_count + 1);
    assert.equal(after.total_bytes, before.total_bytes + 8);
    assert.equal(after.by_status.confirmed, before.by_status.confirmed + 1);
    assert.equal(after.by_content_type['application/json'], (before.by_content_type['application/json'] ?? 0) + 1);
  });

  it('download-url is 404 for an upload that is not confirmed', async () => {
    const p = await presign(h, { name: 'later.txt' });
    const answer = await h.api('GET', `/api/v1/uploads/${p.data_source_id}/download-url`);
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, 'not_found');
  });

  it('unknown and malformed ids are 404 on every per-upload endpoint', async () => {
    for (const id of ['0190d7c4-0000-7000-8000-000000000000', 'not-a-uuid']) {
      for (const [method, route] of [
        ['GET', `/api/v1/uploads/${id}`],
        ['POST', `/api/v1/uploads/${id}/cancel`],
        ['POST', `/api/v1/uploads/${id}/retry`],
        ['GET', `/api/v1/uploads/${id}/download-url`],
        ['GET', `/api/v1/jobs/${id}`],
      ]) {
        const answer = await h.api(method, route);
        assert.equal(answer.status, 404, `${method} ${route}`);
        assert.equal(answer.body.error.code, 'not_found');
      }
      const confirmAnswer = await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: id } });
      assertError(confirmAnswer, 404, 'not_found');
    }
  });

  // Last: its sweep, run as if past the grace period, touches every row of this harness.
  it('a cancelled upload never becomes confirmed, though its bytes arrive after the cancel, and the sweeper removes them', async () => {
    const bytes = Buffer.from('sent after the cancel');
    const p = await presign(h, { name: 'late.txt', size_bytes: bytes.length });
    const cancelled = await h.api('POST', `/api/v1/uploads/${p.data_source_id}/cancel`);
    assert.equal(cancelled.body.status, 'cancelled');
    const key = `${h.orgId}/${p.data_source_id}`;
    const put = await putBytes(p, bytes);
    if (h.runtime.blobs.driver === 'local') {
      assert.equal(put.status, 409, 'the local driver refuses the URL of a cancelled upload');
      // What an S3 presigned URL, which cannot be revoked, lets through: the bytes land all the same.
      await h.runtime.blobs.put(key, Readable.from([bytes]));
    } else {
      assert.equal(put.status, 200, 'S3 takes the bytes: a presigned URL cannot be revoked');
    }
    assert.ok(await h.runtime.blobs.stat(key), 'the late bytes are in storage');

    const confirmAnswer = await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: p.data_source_id } });
    assertError(confirmAnswer, 409, 'conflict');
    assertError(await h.api('POST', `/api/v1/uploads/${p.data_source_id}/retry`), 409, 'conflict');
    assert.equal((await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body.status, 'cancelled');
    assertError(await h.api('GET', `/api/v1/uploads/${p.data_source_id}/download-url`), 404, 'not_found');

    const db = h.runtime.database.db;
    const pastGrace = new Date(Date.now() + (h.config.sweeper.graceSeconds + 60) * 1000);
    await runSweep({ ...h.runtime, db, log: h.runtime.logger }, pastGrace);
    assert.equal(await h.runtime.blobs.stat(key), null, 'the sweeper removed the late bytes');
    const row = await db
      .selectFrom('uploads')
      .select(['status', 'blob_purged_at'])
      .where('id', '=', p.data_source_id)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'cancelled');
    assert.ok(row.blob_purged_at);
  });
});
