/**
 * The content policy of an org (GET/PUT /api/v1/policy) and its enforcement: declared types and sizes
 * refused before a byte is stored (415, 413) at every flow that makes an upload, the quota counting
 * pending bytes, the confirm job judging the stored bytes (type_refused, size_mismatch), and the
 * byte counters the quota reads equal to a real sum after every kind of change.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import { assertError } from './helpers/assertions.js';
import { countBlobFiles } from './helpers/blob-files.js';
import { sendFileContent } from './helpers/files.js';
import { postForm } from './helpers/forms.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { confirm, presign, putBytes, settle, sha256, uploadConfirmed } from './helpers/uploads.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

describe('the content policy', () => {
  let h: Harness;
  let elf: Buffer;
  before(async () => {
    h = await startStowage();
    elf = (await readFile(process.execPath)).subarray(0, 64 * 1024);
  });
  after(() => h.close());
  // Each test sets the policy it needs; none leaks into the next.
  afterEach(async () => void (await putPolicy({})));

  const putPolicy = (body: unknown, key = h.keys.admin) => h.api('PUT', '/api/v1/policy', { key, body });
  const getPolicy = (key = h.keys.admin) => h.api('GET', '/api/v1/policy', { key });
  const summary = async (key = h.keys.writer) => (await h.api('GET', '/api/v1/uploads/summary', { key })).body;
  const presignAnswer = (body: Record<string, unknown>) => h.api('POST', '/api/v1/uploads/presign', { body });
  /** Writes bytes straight into storage, past any URL, as a store that binds no size would keep them. */
  const storeDirectly = (id: string, bytes: Buffer) => h.runtime.blobs.put(`${h.orgId}/${id}`, Readable.from([bytes]));

  /** Sets a quota leaving exactly `room` bytes free beside what the org holds and has pending now. */
  async function quotaLeaving(room: number, extra: Record<string, unknown> = {}) {
    const now = await summary();
    const quota = now.used_bytes + now.pending_bytes + room;
    const answer = await putPolicy({ ...extra, quota_bytes: quota });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { quota, used: now.used_bytes as number, pending: now.pending_bytes as number };
  }

  describe('GET and PUT /api/v1/policy', () => {
    it("answers the server's default until a policy is set, then the policy, in the same shape", async () => {
      const initial = await getPolicy(h.keys.otherOrg);
      assert.equal(initial.status, 200);
      assert.deepEqual(initial.body, {
        allowed_content_types: null,
        refused_content_types: [...h.config.refusedContentTypes],
        max_upload_bytes: null,
        quota_bytes: null,
        is_default: true,
        updated_at: null,
      });

      const body = {
        allowed_content_types: ['image/*', 'application/pdf'],
        refused_content_types: ['image/svg+xml'],
        max_upload_bytes: 1_000_000,
        quota_bytes: 50_000_000,
      };
      const put = await putPolicy(body);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(Object.keys(put.body).sort(), [
        'allowed_content_types',
        'is_default',
        'max_upload_bytes',
        'quota_bytes',
        'refused_content_types',
        'updated_at',
      ]);
      assert.deepEqual({ ...put.body, updated_at: null }, { ...body, is_default: false, updated_at: null });
      assert.ok(!Number.isNaN(Date.parse(put.body.updated_at)));
      assert.deepEqual((await getPolicy()).body, put.body, 'GET answers what PUT set');
    });

    it('replaces the whole policy: a field left out is back to its default, the executables still refused', async () => {
      await putPolicy({ allowed_content_types: ['text/*'], refused_content_types: [], max_upload_bytes: 10 });
      const put = await putPolicy({ quota_bytes: 123 });
      assert.equal(put.status, 200);
      assert.equal(put.body.allowed_content_types, null);
      assert.equal(put.body.max_upload_bytes, null);
      assert.equal(put.body.quota_bytes, 123);
      assert.deepEqual(put.body.refused_content_types, [...h.config.refusedContentTypes]);
      const none = await putPolicy({ refused_content_types: [] });
      assert.deepEqual(none.body.refused_content_types, [], '[] refuses nothing');
    });

    it('is for admin keys only', async () => {
      const readOnly = await h.createKey(h.orgId, ['uploads:read', 'files:read', 'parts:read']);
      for (const key of [h.keys.writer, h.keys.reader, readOnly]) {
        assertError(await getPolicy(key), 403, 'insufficient_scope');
        assertError(await putPolicy({ quota_bytes: 1 }, key), 403, 'insufficient_scope');
      }
      assert.equal((await getPolicy()).body.quota_bytes, null, 'the refused PUTs changed nothing');
      assertError(await h.api('GET', '/api/v1/policy', { key: null }), 401, 'invalid_api_key');
    });

    it("leaves another org's policy untouched", async () => {
      await putPolicy({ allowed_content_types: ['image/png'], quota_bytes: 0 });
      const other = await getPolicy(h.keys.otherOrg);
      assert.equal(other.body.is_default, true);
      assert.equal(other.body.quota_bytes, null);
      const theirs = await h.api('POST', '/api/v1/uploads/presign', {
        key: h.keys.otherOrg,
        body: { name: 'report.pdf', content_type: 'application/pdf', size_bytes: 100 },
      });
      assert.equal(theirs.status, 200, 'the other org presigns what this policy refuses');
      assert.equal((await summary(h.keys.otherOrg)).quota_bytes, null);
    });

    it('answers 422 naming the field for every invalid body, and changes nothing', async () => {
      const set = await putPolicy({ allowed_content_types: ['image/*'], refused_content_types: ['image/gif'], max_upload_bytes: 500 });
      assert.equal(set.status, 200);
      const long = `application/${'x'.repeat(250)}`;
      const invalid: [unknown, string][] = [
        [{ allowed_content_types: ['Image/PNG'] }, 'body.allowed_content_types[0]'],
        [{ allowed_content_types: ['image'] }, 'body.allowed_content_types[0]'],
        [{ allowed_content_types: ['*/*'] }, 'body.allowed_content_types[0]'],
        [{ allowed_content_types: ['image/*/png'] }, 'body.allowed_content_types[0]'],
        [{ allowed_content_types: ['text/plain; charset=utf-8'] }, 'body.allowed_content_types[0]'],
        [{ allowed_content_types: [long] }, 'body.allowed_content_types[0]'],
        [{ allowed_content_types: [] }, 'body.allowed_content_types'],
        [{ allowed_content_types: ['image/png', 'image/png'] }, 'body.allowed_content_types'],
        [{ allowed_content_types: Array.from({ length: 101 }, (_, i) => `model/x-${i}`) }, 'body.allowed_content_types'],
        [{ allowed_content_types: 'image/png' }, 'body.allowed_content_types'],
        [{ refused_content_types: [' image/png'] }, 'body.refused_content_types[0]'],
        [{ refused_content_types: [42] }, 'body.refused_content_types[0]'],
        [{ max_upload_bytes: 0 }, 'body.max_upload_bytes'],
        [{ max_upload_bytes: 1.5 }, 'body.max_upload_bytes'],
        [{ max_upload_bytes: '1000' }, 'body.max_upload_bytes'],
        [{ max_upload_bytes: 2 ** 53 }, 'body.max_upload_bytes'],
        [{ quota_bytes: -1 }, 'body.quota_bytes'],
        [{ quota: 100 }, 'body.quota'],
        [{ allowed_content_types: ['image/*'], refused_content_types: ['image/*'] }, 'body.refused_content_types[0]'],
      ];
      for (const [body, path] of invalid) {
        const answer = await putPolicy(body);
        assertError(answer, 422, 'validation_error', JSON.stringify(body));
        assert.ok(
          answer.body.error.details.some((d: { path: string }) => d.path === path),
          `${JSON.stringify(body)} names ${path}: ${JSON.stringify(answer.body.error.details)}`,
        );
      }
      assert.deepEqual((await getPolicy()).body, set.body, 'no invalid PUT changed anything');
    });

    it('is in the OpenAPI document, with its limits', async () => {
      const document = await (await fetch(`${h.url}/openapi.json`)).json();
      const put = document.paths['/api/v1/policy'].put;
      assert.equal(put.operationId, 'putContentPolicy');
      const schema = put.requestBody.content['application/json'].schema;
      assert.equal(schema.properties.allowed_content_types.maxItems, 100);
      assert.ok(schema.properties.allowed_content_types.items.pattern);
      assert.ok(document.paths['/api/v1/policy'].get);
    });
  });

  describe('a declared type outside the policy is 415 before any bytes are sent', () => {
    const policy = { allowed_content_types: ['image/*', 'application/pdf', 'text/*'], refused_content_types: ['image/svg+xml'] };

    it('at presign: not allowed, or refused (refused wins over allowed)', async () => {
      await putPolicy(policy);
      const before = (await summary()).total_count;
      const zip = await presignAnswer({ name: 'a.zip', content_type: 'application/zip', size_bytes: 10 });
      assertError(zip, 415, 'unsupported_media_type');
      assert.deepEqual(zip.body.error.details, {
        path: 'body.content_type',
        content_type: 'application/zip',
        refused_by: 'allowed_content_types',
      });
      const svg = await presignAnswer({ name: 'a.svg', content_type: 'image/svg+xml' });
      assertError(svg, 415, 'unsupported_media_type');
      assert.equal(svg.body.error.details.refused_by, 'refused_content_types');
      const withParameters = await presignAnswer({ name: 'a.zip', content_type: 'Application/ZIP; foo=bar' });
      assertError(withParameters, 415, 'unsupported_media_type', 'case and parameters are no part of the type');
      assert.equal((await summary()).total_count, before, 'no row was made');
      assert.equal((await presignAnswer({ name: 'a.png', content_type: 'image/png', size_bytes: 10 })).status, 200);
      assert.equal((await presignAnswer({ name: 'a.csv', content_type: 'text/csv; charset=utf-8' })).status, 200);
    });

    it('at batch presign: the whole batch, naming the file', async () => {
      await putPolicy(policy);
      const before = (await summary()).total_count;
      const answer = await h.api('POST', '/api/v1/uploads/presign/batch', {
        body: {
          files: [
            { name: 'ok.pdf', content_type: 'application/pdf' },
            { name: 'x.exe', content_type: 'application/x-msdownload' },
          ],
        },
      });
      assertError(answer, 415, 'unsupported_media_type');
      assert.equal(answer.body.error.details.path, 'body.files[1].content_type');
      assert.equal((await summary()).total_count, before, 'one refused file refuses the batch');
    });

    it('at multipart start', async () => {
      await putPolicy(policy);
      const answer = await h.api('POST', '/api/v1/uploads/multipart', {
        body: { name: 'big.zip', size_bytes: 20_000_000, content_type: 'application/zip' },
      });
      assertError(answer, 415, 'unsupported_media_type');
      assert.equal(answer.body.error.details.path, 'body.content_type');
    });

    it('at the simple upload, keeping nothing', async () => {
      await putPolicy(policy);
      const before = (await summary()).total_count;
      const blobsBefore = await countBlobFiles(h);
      const answer = await postForm(h, { filename: 'a.zip', type: 'application/zip', bytes: Buffer.alloc(300 * 1024, 1) });
      assertError(answer, 415, 'unsupported_media_type');
      assert.equal(answer.headers.get('connection'), 'close', 'the client is told to stop sending');
      assert.equal((await summary()).total_count, before);
      assert.equal(await countBlobFiles(h), blobsBefore);
    });

    it("at the dataset upload and at a file's content", async () => {
      await putPolicy(policy);
      const partsKey = await h.createKey(h.orgId, ['parts:read', 'parts:write', 'uploads:write', 'files:read', 'files:write']);
      const part = await h.api('POST', '/api/v1/parts/', { key: partsKey, body: { part_number: 'POLICY-1' } });
      const rev = await h.api('POST', `/api/v1/parts/${part.body.id}/revisions`, { key: partsKey, body: { revision_code: 'A' } });
      const dataset = await postForm(h, {
        key: partsKey,
        route: `/api/v1/parts/${part.body.id}/revisions/${rev.body.id}/datasets/upload`,
        filename: 'a.zip',
        type: 'application/zip',
        bytes: Buffer.from('PK not really'),
      });
      assertError(dataset, 415, 'unsupported_media_type');

      const file = await h.api('POST', '/api/v1/files', {
        key: partsKey,
        body: { filename: 'a.zip', content_type: 'application/zip', size: 5 },
      });
      assert.equal(file.status, 201, JSON.stringify(file.body));
      assertError(await sendFileContent(h, partsKey, file.body.id, 'hello'), 415, 'unsupported_media_type');
      assert.equal((await h.api('GET', `/api/v1/files/${file.body.id}`, { key: partsKey })).body.status, 'pending');
    });

    it("by default: the server's executable types", async () => {
      const answer = await h.api('POST', '/api/v1/uploads/presign', {
        key: h.keys.otherOrg,
        body: { name: 'setup.exe', content_type: 'application/x-msdownload' },
      });
      assertError(answer, 415, 'unsupported_media_type');
      assert.equal(answer.body.error.details.refused_by, 'refused_content_types');
    });
  });

  describe('the confirm job judges the bytes by the policy', () => {
    /** presign → PUT → confirm → settled, as the key's org. */
    async function confirmed(bytes: Buffer, body: Record<string, unknown>, key = h.keys.writer) {
      const p = await presign(h, body, key);
      const put = await putBytes(p, bytes);
      assert.ok(put.ok, `PUT answered ${put.status}`);
      const jobId = await confirm(h, p.data_source_id, key);
      const job = await eventually(async () => {
        const answer = await h.api('GET', `/api/v1/jobs/${jobId}`, { key });
        return answer.body.status === 'succeeded' || answer.body.status === 'failed' ? answer.body : undefined;
      }, `job ${jobId}`);
      return { job, upload: (await h.api('GET', `/api/v1/uploads/${p.data_source_id}`, { key })).body };
    }

    it('fails type_refused for a sniffed type outside the allowed list, whatever was declared', async () => {
      await putPolicy({ allowed_content_types: ['application/pdf', 'text/*'] });
      const { upload, job } = await confirmed(PNG, { name: 'drawing.pdf', content_type: 'application/pdf' });
      assert.equal(upload.status, 'failed');
      assert.equal(upload.failure_reason, 'type_refused');
      assert.match(job.error, /^type_refused: image\/png is not among the content types/);
    });

    it('fails type_refused for a sniffed type in the refused list', async () => {
      await putPolicy({ refused_content_types: ['image/*'] });
      const { upload, job } = await confirmed(PNG, { name: 'logo' });
      assert.equal(upload.failure_reason, 'type_refused');
      assert.match(job.error, /image\/png files are refused/);
    });

    it('takes a text file by the text format declared (a CSV sniffs as text/plain)', async () => {
      await putPolicy({ allowed_content_types: ['text/csv'] });
      const csv = Buffer.from('part,qty\nbolt,4\n');
      const { upload } = await confirmed(csv, { name: 'bom.csv', content_type: 'text/csv', size_bytes: csv.length });
      assert.equal(upload.status, 'confirmed');
      assert.equal(upload.detected_content_type, 'text/plain');
      const { upload: undeclared } = await confirmed(Buffer.from('plain words\n'), { name: 'notes' });
      assert.equal(undeclared.failure_reason, 'type_refused', 'undeclared, text is judged text/plain');
    });

    it("by default refuses an executable, and the server's list still holds once a policy is set without one", async () => {
      const other = await confirmed(elf, { name: 'innocent.pdf', content_type: 'application/pdf' }, h.keys.otherOrg);
      assert.equal(other.upload.failure_reason, 'type_refused');
      assert.match(other.job.error, /application\/x-elf/);
      await putPolicy({ quota_bytes: 10 ** 12 });
      const mine = await confirmed(elf, { name: 'tool.bin' });
      assert.equal(mine.upload.failure_reason, 'type_refused');
    });

    it('fails size_mismatch when bytes of undeclared size are over the largest upload', async () => {
      await putPolicy({ max_upload_bytes: 1000 });
      const p = await presign(h, { name: 'unsized.bin' });
      if (h.config.storageDriver === 'local') {
        // The local driver binds the bound into the URL; S3 cannot, which the confirm makes up for.
        assert.equal((await putBytes(p, Buffer.alloc(1001, 7))).status, 413);
      }
      await storeDirectly(p.data_source_id, Buffer.alloc(1001, 7));
      const { upload, job } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
      assert.equal(upload.failure_reason, 'size_mismatch');
      assert.match(job.error, /over this organisation's largest upload of 1000/);
    });
  });

  describe('sizes: 413 before any bytes are sent', () => {
    it('a declared size over max_upload_bytes, at every flow', async () => {
      await putPolicy({ max_upload_bytes: 1000 });
      const over = await presignAnswer({ name: 'a.bin', size_bytes: 1001 });
      assertError(over, 413, 'payload_too_large');
      assert.deepEqual(over.body.error.details, { path: 'body.size_bytes', size_bytes: 1001, limit: 1000 });
      assert.equal((await presignAnswer({ name: 'a.bin', size_bytes: 1000 })).status, 200);
      const batch = await h.api('POST', '/api/v1/uploads/presign/batch', {
        body: {
          files: [
            { name: 'a.bin', size_bytes: 10 },
            { name: 'b.bin', size_bytes: 5000 },
          ],
        },
      });
      assertError(batch, 413, 'payload_too_large');
      assert.equal(batch.body.error.details.path, 'body.files[1].size_bytes');
      const multipart = await h.api('POST', '/api/v1/uploads/multipart', { body: { name: 'big.bin', size_bytes: 20_000_000 } });
      assertError(multipart, 413, 'payload_too_large');

      const blobsBefore = await countBlobFiles(h);
      const chunked = await postForm(h, { filename: 'big.bin', bytes: Buffer.alloc(200_000, 1) });
      assertError(chunked, 413, 'payload_too_large', 'a chunked form is cut off at the limit');
      const declared = await postForm(h, { filename: 'big.bin', bytes: Buffer.alloc(200_000, 1), contentLength: true });
      assertError(declared, 413, 'payload_too_large', 'a Content-Length over the limit is refused up front');
      assert.equal(await countBlobFiles(h), blobsBefore, 'nothing kept');
      assert.equal((await postForm(h, { filename: 'small.bin', bytes: Buffer.alloc(1000, 1) })).status, 201);
    });

    it('past the quota, counting the pending declared bytes, with details saying where the org stands', async () => {
      const { quota, used, pending } = await quotaLeaving(10_000);
      const first = await presign(h, { name: 'first.bin', size_bytes: 6000 });
      const refused = await presignAnswer({ name: 'second.bin', size_bytes: 5000 });
      assertError(refused, 413, 'payload_too_large');
      assert.deepEqual(refused.body.error.details, {
        quota_bytes: quota,
        used_bytes: used,
        pending_bytes: pending + 6000,
        requested_bytes: 5000,
        available_bytes: 4000,
      });
      assert.match(refused.body.error.message, /past its storage quota/);
      assertError(
        await h.api('POST', '/api/v1/uploads/presign/batch', {
          body: {
            files: [
              { name: 'a.bin', size_bytes: 3000 },
              { name: 'b.bin', size_bytes: 3000 },
            ],
          },
        }),
        413,
        'payload_too_large',
        'a batch counts all its files',
      );
      assertError(
        await h.api('POST', '/api/v1/uploads/multipart', { body: { name: 'big.bin', size_bytes: 4001 } }),
        413,
        'payload_too_large',
      );
      assertError(await postForm(h, { filename: 'c.bin', bytes: Buffer.alloc(5000, 1) }), 413, 'payload_too_large');

      const fits = await presign(h, { name: 'fits.bin', size_bytes: 4000 });
      assertError(await presignAnswer({ name: 'unsized.bin' }), 413, 'payload_too_large', 'no room left for a size not declared');
      assert.equal((await h.api('POST', `/api/v1/uploads/${fits.data_source_id}/cancel`)).status, 200);
      const unsized = await presign(h, { name: 'unsized.bin' });
      assert.ok(unsized.url, 'cancelling gave the room back');

      const bytes = Buffer.alloc(6000, 2);
      assert.ok((await putBytes(first, bytes)).ok);
      const { upload } = await settle(h, first.data_source_id, await confirm(h, first.data_source_id));
      assert.equal(upload.status, 'confirmed');
      const now = await summary();
      assert.equal(now.used_bytes, used + 6000, 'confirmed: used, no longer pending');
      assert.equal(now.pending_bytes, pending);
      assert.equal(now.quota_bytes, quota);
      assert.equal(now.available_bytes, 4000);
    });

    it('fails the confirm of bytes of undeclared size that do not fit in the room left', async () => {
      await quotaLeaving(1000);
      const p = await presign(h, { name: 'unsized.bin' });
      if (h.config.storageDriver === 'local') assert.equal((await putBytes(p, Buffer.alloc(1500, 3))).status, 413);
      await storeDirectly(p.data_source_id, Buffer.alloc(1500, 3));
      const { upload, job } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
      assert.equal(upload.failure_reason, 'size_mismatch');
      assert.match(job.error, /past this organisation's storage quota/);
    });

    it('a simple upload is cut off at the room left when its size is not declared', async () => {
      await quotaLeaving(50_000);
      const blobsBefore = await countBlobFiles(h);
      const answer = await postForm(h, { filename: 'big.bin', bytes: Buffer.alloc(60_000, 4) });
      assertError(answer, 413, 'payload_too_large');
      assert.match(answer.body.error.message, /50000 bytes are left under this organisation's storage quota/);
      assert.equal(await countBlobFiles(h), blobsBefore);
      const fits = await postForm(h, { filename: 'fits.bin', bytes: Buffer.alloc(50_000, 4) });
      assert.equal(fits.status, 201, JSON.stringify(fits.body));
      assert.equal((await summary()).available_bytes, 0);
    });
  });

  describe('the usage counters', () => {
    let client: pg.Client;
    before(async () => {
      client = new pg.Client({ connectionString: h.databaseUrl });
      await client.connect();
    });
    after(() => client.end());

    async function countedAndReal(orgId: string) {
      const { rows } = await client.query(
        `SELECT
           (SELECT coalesce(sum(confirmed_bytes), 0)::text FROM upload_usage WHERE org_id = $1) AS counted_confirmed,
           (SELECT coalesce(sum(pending_bytes), 0)::text FROM upload_usage WHERE org_id = $1) AS counted_pending,
           (SELECT coalesce(sum(size_bytes), 0)::text FROM uploads
             WHERE org_id = $1 AND status = 'confirmed' AND blob_purged_at IS NULL) AS real_confirmed,
           (SELECT coalesce(sum(declared_size), 0)::text FROM uploads WHERE org_id = $1 AND status = 'pending') AS real_pending`,
        [orgId],
      );
      const row = rows[0];
      return {
        counted: { confirmed: Number(row.counted_confirmed), pending: Number(row.counted_pending) },
        real: { confirmed: Number(row.real_confirmed), pending: Number(row.real_pending) },
      };
    }

    it('equal a real SUM after creates, confirms, failures, cancels, retries, trash, purges and rollbacks', async () => {
      const start = await countedAndReal(h.orgId);
      assert.deepEqual(start.counted, start.real, 'true before');

      // confirmed: presigned, deduplicated against it, streamed
      const kept = await uploadConfirmed(h, 'kept.bin', Buffer.alloc(3000, 5));
      const dedup = await presign(h, { name: 'again.bin', sha256: sha256(Buffer.alloc(3000, 5)) });
      assert.equal(dedup.deduplicated, true);
      assert.equal((await postForm(h, { filename: 'streamed.txt', bytes: Buffer.from('streamed bytes\n') })).status, 201);
      // pending: declared, undeclared, a batch, a multipart upload
      await presign(h, { name: 'waiting.bin', size_bytes: 777 });
      await presign(h, { name: 'unsized.bin' });
      await h.api('POST', '/api/v1/uploads/presign/batch', {
        body: {
          files: [
            { name: 'b1', size_bytes: 11 },
            { name: 'b2', size_bytes: 22 },
          ],
        },
      });
      const multipart = await h.api('POST', '/api/v1/uploads/multipart', { body: { name: 'mp.bin', size_bytes: 6_000_000 } });
      assert.equal(multipart.status, 200);
      // failed (size mismatch), then retried (pending again), then failed again
      const failing = await presign(h, { name: 'short.bin', size_bytes: 10 });
      await storeDirectly(failing.data_source_id, Buffer.from('12345'));
      const failed = await settle(h, failing.data_source_id, await confirm(h, failing.data_source_id));
      assert.equal(failed.upload.status, 'failed');
      const retried = await h.api('POST', `/api/v1/uploads/${failing.data_source_id}/retry`);
      assert.equal(retried.body.status, 'pending');
      const mid = await countedAndReal(h.orgId);
      assert.deepEqual(mid.counted, mid.real, 'true mid-way');
      assert.ok(mid.counted.pending >= start.counted.pending + 777 + 33 + 6_000_000 + 10, 'pending bytes counted');
      await settle(h, failing.data_source_id, await confirm(h, failing.data_source_id));
      // cancelled, bulk-cancelled
      const cancelled = await presign(h, { name: 'cancel.bin', size_bytes: 500 });
      await h.api('POST', `/api/v1/uploads/${cancelled.data_source_id}/cancel`);
      await h.api('POST', '/api/v1/uploads/bulk-cancel', { body: { ids: [multipart.body.data_source_id] } });
      // trash (still held), then purged (freed)
      const trashed = await uploadConfirmed(h, 'trashed.bin', Buffer.alloc(1200, 6));
      assert.equal((await h.api('DELETE', `/api/v1/uploads/${trashed.id}`)).status, 200);
      const trashedState = await countedAndReal(h.orgId);
      assert.deepEqual(trashedState.counted, trashedState.real);
      const purged = await uploadConfirmed(h, 'purged.bin', Buffer.alloc(900, 8));
      const purge = await h.api('DELETE', `/api/v1/uploads/${purged.id}?permanent=true`, { key: h.keys.admin });
      assert.equal(purge.status, 200, JSON.stringify(purge.body));
      const afterPurge = await countedAndReal(h.orgId);
      assert.deepEqual(afterPurge.counted, afterPurge.real);
      assert.equal(afterPurge.counted.confirmed, trashedState.counted.confirmed, 'the purged bytes went out as they came in');
      // Any writer keeps them true: an expiry as the sweeper writes it, a bulk update in SQL, a rollback.
      await client.query(`UPDATE uploads SET status = 'failed', failure_reason = 'expired' WHERE org_id = $1 AND name = 'waiting.bin'`, [
        h.orgId,
      ]);
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO uploads (id, org_id, name, declared_size, blob_key, expires_at) VALUES (gen_random_uuid(), $1, 'ghost', 999999, 'ghost', now())`,
        [h.orgId],
      );
      await client.query('ROLLBACK');
      const end = await countedAndReal(h.orgId);
      assert.deepEqual(end.counted, end.real, 'true at the end');
      assert.ok(end.counted.confirmed >= start.counted.confirmed + 3000 * 2 + 1200, `${JSON.stringify(end)}`);
      assert.ok(kept.size_bytes === 3000);

      const summed = await summary();
      assert.equal(summed.used_bytes, end.counted.confirmed, 'the summary reports the counters');
      assert.equal(summed.pending_bytes, end.counted.pending);
      const other = await countedAndReal(h.otherOrgId);
      assert.deepEqual(other.counted, other.real, "the other org's too");
    });
  });
});
