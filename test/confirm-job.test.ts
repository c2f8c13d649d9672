import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../src/blobs/s3.js';
import { assertError } from './helpers/assertions.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { confirm, presign, putBytes, settle, sha256 } from './helpers/uploads.js';

describe('the confirm job', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage();
  });
  after(() => h.close());

  /** Writes bytes straight into storage, as a store that does not verify declarations would keep them. */
  const storeDirectly = (id: string, bytes: Buffer | string) =>
    h.runtime.blobs.put(`${h.orgId}/${id}`, Readable.from([Buffer.from(bytes)]));

  async function confirmAndSettle(id: string) {
    return settle(h, id, await confirm(h, id));
  }

  it('fails with object_missing when no bytes were uploaded, and a retry after the PUT confirms', async () => {
    const p = await presign(h, { name: 'never.txt', size_bytes: 3 });
    const { job, upload } = await confirmAndSettle(p.data_source_id);
    assert.equal(upload.status, 'failed');
    assert.equal(upload.failure_reason, 'object_missing');
    assert.equal(job.status, 'failed');
    assert.match(job.error, /^object_missing/);

    assert.equal((await putBytes(p, 'abc')).status, 200);
    const retried = await h.api('POST', `/api/v1/uploads/${p.data_source_id}/retry`);
    assert.equal(retried.status, 200);
    assert.equal(retried.body.status, 'pending');
    assert.equal(retried.body.failure_reason, null);
    const newJob = (await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: p.data_source_id } })).body.job_id;
    assert.notEqual(newJob, job.id, 'retry made a new job, which confirm now returns');
    const { upload: after } = await settle(h, p.data_source_id, newJob);
    assert.equal(after.status, 'confirmed');
    assert.equal(after.sha256, sha256('abc'));
  });

  it('fails with size_mismatch when storage holds another size than declared', async () => {
    const p = await presign(h, { name: 'short.bin', size_bytes: 10 });
    await storeDirectly(p.data_source_id, '12345');
    const { upload, job } = await confirmAndSettle(p.data_source_id);
    assert.equal(upload.status, 'failed');
    assert.equal(upload.failure_reason, 'size_mismatch');
    assert.match(job.error, /size_mismatch: stored 5 bytes, declared 10/);
    assert.equal(upload.size_bytes, null, 'unverified facts are not shown');
  });

  it('fails with checksum_mismatch when the bytes hash to another sha256 than declared', async () => {
    const p = await presign(h, { name: 'swapped.bin', size_bytes: 5, sha256: sha256('right') });
    await storeDirectly(p.data_source_id, 'wrong');
    const { upload, job } = await confirmAndSettle(p.data_source_id);
    assert.equal(upload.failure_reason, 'checksum_mismatch');
    assert.equal(upload.sha256, null);
    assert.ok(job.error.includes(sha256('wrong')));
  });

  it('fails with type_refused for an executable, sniffed from its bytes whatever its name', async () => {
    const elf = (await readFile(process.execPath)).subarray(0, 256 * 1024);
    const p = await presign(h, { name: 'innocent.pdf', content_type: 'application/pdf' });
    assert.equal((await putBytes(p, elf)).status, 200);
    const { upload, job } = await confirmAndSettle(p.data_source_id);
    assert.equal(upload.status, 'failed');
    assert.equal(upload.failure_reason, 'type_refused');
    assert.match(job.error, /application\/x-elf/);
  });

  it('sniffs CAD formats the generic library does not know', async () => {
    const step = "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n";
    const p = await presign(h, { name: 'bracket.step' });
    await putBytes(p, step);
    const { upload } = await confirmAndSettle(p.data_source_id);
    assert.equal(upload.detected_content_type, 'model/step');
  });

  /**
   * A storage fault that is no verdict on the upload, made where the driver keeps its blobs, and its
   * undoing. Local: a folder where the blob should be (stat succeeds, reading fails with EISDIR). S3:
   * this harness's own bucket deleted (every request fails until it is back).
   */
  async function breakStorage(id: string): Promise<() => Promise<void>> {
    if (h.runtime.blobs instanceof S3BlobStore) {
      const store = h.runtime.blobs;
      for (const blob of await store.list({ after: '', limit: 1000 })) await store.delete(blob.key);
      await store.client.send(new DeleteBucketCommand({ Bucket: store.bucket }));
      return async () => void (await store.client.send(new CreateBucketCommand({ Bucket: store.bucket })));
    }
    const blobPath = path.join(h.dataDir, 'blobs', h.orgId, id);
    await mkdir(blobPath, { recursive: true });
    return () => rm(blobPath, { recursive: true });
  }

  it('retries a transient storage fault with backoff and completes once storage recovers', async () => {
    const p = await presign(h, { name: 'flaky.txt' });
    const repair = await breakStorage(p.data_source_id);
    const jobId = await confirm(h, p.data_source_id);
    const retrying = await eventually(async () => {
      const job = (await h.api('GET', `/api/v1/jobs/${jobId}`)).body;
      return job.attempts >= 2 ? job : undefined;
    }, 'a second attempt');
    assert.notEqual(retrying.status, 'failed');
    assert.equal((await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body.status, 'pending', 'a fault does not fail the upload');

    await repair();
    await storeDirectly(p.data_source_id, 'recovered');
    const { job, upload } = await settle(h, p.data_source_id, jobId);
    assert.equal(job.status, 'succeeded');
    assert.ok(job.attempts >= 2);
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.sha256, sha256('recovered'));
  });

  it('a cancelled upload cannot be confirmed; cancel is idempotent and refuses decided uploads', async () => {
    const p = await presign(h, { name: 'dropped.txt' });
    const first = await h.api('POST', `/api/v1/uploads/${p.data_source_id}/cancel`);
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'cancelled');
    const again = await h.api('POST', `/api/v1/uploads/${p.data_source_id}/cancel`);
    assert.equal(again.status, 200);
    const confirmAnswer = await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: p.data_source_id } });
    assert.equal(confirmAnswer.status, 409);
    assert.equal(confirmAnswer.body.error.code, 'conflict');
    const retryAnswer = await h.api('POST', `/api/v1/uploads/${p.data_source_id}/retry`);
    assertError(retryAnswer, 409, 'conflict');

    const done = await presign(h, { name: 'kept.txt' });
    await putBytes(done, 'kept');
    await confirmAndSettle(done.data_source_id);
    const cancelConfirmed = await h.api('POST', `/api/v1/uploads/${done.data_source_id}/cancel`);
    assertError(cancelConfirmed, 409, 'conflict');
    assert.equal(cancelConfirmed.body.error.details.status, 'confirmed');
    assertError(await h.api('POST', `/api/v1/uploads/${done.data_source_id}/retry`), 409, 'conflict');

    const failed = await presign(h, { name: 'gone.txt' });
    await confirmAndSettle(failed.data_source_id);
    assertError(await h.api('POST', `/api/v1/uploads/${failed.data_source_id}/cancel`), 409, 'conflict');
  });
});

describe('the confirm job under a small single-request limit', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ STOWAGE_SINGLE_REQUEST_MAX_BYTES: '1024' });
  });
  after(() => h.close());

  it('fails an upload presigned without a size whose stored bytes are over the limit', async () => {
    // An S3 URL presigned without a size binds no length: storage keeps whatever was sent.
    const over = await presign(h, { name: 'unsized.bin' });
    await h.runtime.blobs.put(`${h.orgId}/${over.data_source_id}`, Readable.from([Buffer.alloc(1025, 1)]));
    const { upload, job } = await settle(h, over.data_source_id, await confirm(h, over.data_source_id));
    assert.equal(upload.status, 'failed');
    assert.equal(upload.failure_reason, 'size_mismatch');
    assert.match(job.error, /1025 bytes, over the 1024-byte limit/);

    const at = await presign(h, { name: 'unsized-ok.bin' });
    await h.runtime.blobs.put(`${h.orgId}/${at.data_source_id}`, Readable.from([Buffer.alloc(1024, 1)]));
    assert.equal(
      (await settle(h, at.data_source_id, await confirm(h, at.data_source_id))).upload.status,
      'confirmed',
      'the limit itself is allowed',
    );
  });
});
