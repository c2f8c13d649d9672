/**
 * Object storage failing under a running service: the S3 driver reached through a TCP proxy (cut,
 * refused, truncated) and an HTTP fault injector (5xx and SlowDown answers), on the suite's S3 engine
 * (Ceph RGW with S3_TEST_ENDPOINT, else s3rver), in a bucket of this file's own.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import type { BlobError } from '../src/blobs/blob-store.js';
import { S3BlobStore, type S3Settings } from '../src/blobs/s3.js';
import { assertError } from './helpers/assertions.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { type S3Engine, freshBucketName, s3EnvOf, startS3Engine } from './helpers/s3.js';
import { S3FaultProxy } from './helpers/s3-fault-proxy.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { confirm, presign, putBytes, settle, sha256, uploadConfirmed } from './helpers/uploads.js';

describe('object storage faults', () => {
  let engine: S3Engine;
  let faults: S3FaultProxy;
  let tcp: TcpProxy;
  let h: Harness;
  /** The same bucket straight on the engine, for the test's own changes behind the service's back. */
  let direct: S3BlobStore;
  let settings: S3Settings;

  before(async () => {
    engine = await startS3Engine();
    settings = engine.settings(freshBucketName());
    // service → TCP proxy → fault injector → engine; presigned URLs name the TCP proxy, so the test's
    // own PUTs take the same road.
    faults = await S3FaultProxy.start(settings.endpoint!);
    tcp = await TcpProxy.forUrl(faults.url);
    direct = new S3BlobStore(settings);
    h = await startStowage(
      { ...s3EnvOf({ ...settings, endpoint: tcp.rewrite(faults.url) }), STOWAGE_JOB_RETRY_LIMIT: '20' },
      { storage: 'local' },
    );
    assert.equal(h.config.storageDriver, 's3');
  });
  after(async () => {
    await h?.close();
    await tcp?.close();
    await faults?.close();
    await engine?.close();
  });

  // Each test leaves the road open for the next, even when it fails halfway.
  afterEach(() => {
    tcp.restore();
    faults.clear();
  });

  const job = async (id: string) => (await h.api('GET', `/api/v1/jobs/${id}`)).body;
  const uploadStatus = async (id: string) => (await h.api('GET', `/api/v1/uploads/${id}`)).body.status;

  /** Waits until the job has failed at least twice without a verdict: it is being retried. */
  const retrying = (jobId: string) =>
    eventually(async () => {
      const current = await job(jobId);
      assert.notEqual(current.status, 'failed', `the job gave up: ${JSON.stringify(current)}`);
      return current.attempts >= 2 && current.status === 'queued' ? current : undefined;
    }, `job ${jobId} to be retried`);

  async function streamedUpload(name: string, bytes: Buffer | string) {
    const form = new FormData();
    form.append('file', new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), name);
    const response = await fetch(`${h.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': h.keys.writer }, body: form });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
  }

  it('storage unreachable: 503 envelopes, a confirm job retried until storage is back, nothing lost', async () => {
    const kept = await uploadConfirmed(h, 'kept.txt', 'confirmed before the outage');
    const waiting = await presign(h, { name: 'waiting.txt' });
    assert.equal((await putBytes(waiting, 'stored before the outage')).status, 200);

    tcp.refuse();
    assertError(await h.api('GET', '/readyz', { key: null }), 503, 'unavailable', 'readyz');
    assert.equal((await h.api('GET', '/healthz', { key: null })).status, 200, 'the process itself is alive');
    const streamed = await streamedUpload('during.txt', 'sent during the outage');
    assertError(streamed as never, 503, 'unavailable', 'streamed upload');
    assert.equal(streamed.body.error.retryable, true);
    // Signing needs no round trip to storage: these still answer.
    assert.equal((await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'later.txt' } })).status, 200);
    assert.equal((await h.api('GET', `/api/v1/uploads/${kept.id}/download-url`)).status, 200);

    const jobId = await confirm(h, waiting.data_source_id);
    const failing = await retrying(jobId);
    assert.match(failing.error, /unavailable/);
    assert.equal(await uploadStatus(waiting.data_source_id), 'pending', 'an outage is no verdict on the upload');

    tcp.restore();
    const settled = await settle(h, waiting.data_source_id, jobId);
    assert.equal(settled.job.status, 'succeeded');
    assert.equal(settled.upload.status, 'confirmed');
    assert.equal(settled.upload.sha256, sha256('stored before the outage'));
    assert.equal((await h.api('GET', '/readyz', { key: null })).status, 200);
    assert.equal((await streamedUpload('after.txt', 'sent after the outage')).status, 201);
    const download = await h.api('GET', `/api/v1/uploads/${kept.id}/download-url`);
    assert.equal(await (await fetch(download.body.url)).text(), 'confirmed before the outage', 'nothing lost');
  });

  it('a connection cut mid-body fails the streamed upload with 503 and leaves no blob behind', async () => {
    const before = (await direct.list({ after: '', limit: 1000 })).map((b) => b.key);
    const bytes = Buffer.alloc(2 * 1024 * 1024, 7);
    tcp.cutAll(); // pooled connections would not count the bytes
    tcp.cutAfter(256 * 1024);
    const cut = await streamedUpload('cut.bin', bytes);
    assertError(cut as never, 503, 'unavailable', 'cut mid-body');
    tcp.restore();
    const afterCut = (await direct.list({ after: '', limit: 1000 })).map((b) => b.key);
    assert.deepEqual(afterCut, before, 'no blob and no row for a failed upload');
    const again = await streamedUpload('cut.bin', bytes);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.sha256, sha256(bytes));
  });

  it('one SlowDown answer is retried by the driver; a storm of them retries the job, which then confirms', async () => {
    const isHeadOf = (id: string) => (method: string, url: string) => method === 'HEAD' && url.includes(id);
    const once = await presign(h, { name: 'slow.txt' });
    await putBytes(once, 'slow');
    faults.inject({ match: isHeadOf(once.data_source_id), status: 503, code: 'SlowDown', times: 1 });
    const quick = await settle(h, once.data_source_id, await confirm(h, once.data_source_id));
    assert.equal(quick.upload.status, 'confirmed');
    assert.equal(quick.job.attempts, 1, 'the SDK retried the request itself');
    assert.ok(faults.count(isHeadOf(once.data_source_id)) >= 2);

    const storm = await presign(h, { name: 'storm.txt' });
    await putBytes(storm, 'storm');
    faults.inject({ match: isHeadOf(storm.data_source_id), status: 500, code: 'InternalError', times: Infinity });
    const jobId = await confirm(h, storm.data_source_id);
    assert.match((await retrying(jobId)).error, /unavailable/);
    faults.clear();
    const { job: done, upload } = await settle(h, storm.data_source_id, jobId);
    assert.equal(done.status, 'succeeded');
    assert.equal(upload.status, 'confirmed');
  });

  it('storage refusing our own request (403) is a 500 internal_error that leaks nothing', async () => {
    faults.inject({ match: (method) => method === 'PUT', status: 403, code: 'AccessDenied', times: Infinity });
    const refused = await streamedUpload('denied.txt', 'denied');
    assertError(refused as never, 500, 'internal_error', 'storage 403');
    assert.equal(refused.body.error.retryable, true);
    const text = JSON.stringify(refused.body);
    for (const secret of ['AccessDenied', direct.bucket, String(tcp.port), 'injected'])
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  });

  it('CompleteMultipartUpload answering 500 while the upload is open is a 503; the same completion then succeeds', async (t) => {
    if (engine.lacks.multipartListing) return t.skip(`${engine.name} lacks ListParts, which completing asks first`);
    const started = await h.api('POST', '/api/v1/uploads/multipart', { body: { name: 'assembled.bin', size_bytes: 11 } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const id = started.body.data_source_id;
    const [part] = (await h.api('POST', `/api/v1/uploads/${id}/parts`, { body: { part_numbers: [1] } })).body.parts;
    const put = await fetch(part.url, { method: 'PUT', body: 'hello world' });
    assert.equal(put.status, 200);
    const etag = put.headers.get('etag')!.replace(/"/g, '');
    const isCompletion = (method: string, url: string) => method === 'POST' && url.includes('uploadId=');
    faults.inject({ match: isCompletion, status: 500, code: 'InternalError', times: Infinity });
    const body = { parts: [{ part_number: 1, etag }] };
    const failed = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body });
    assertError(failed, 503, 'unavailable', 'completion 500');
    assert.ok(faults.count(isCompletion) >= 2, 'the SDK tried more than once');
    faults.clear();
    const completed = await h.api('POST', `/api/v1/uploads/${id}/complete`, { body });
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    const { upload } = await settle(h, id, completed.body.job_id);
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.sha256, sha256('hello world'));
  });

  it('a storage host that stops answering fails requests after the silence timeout instead of hanging them', async () => {
    const store = new S3BlobStore({ ...settings, endpoint: tcp.rewrite(faults.url), timeouts: { connectMs: 500, idleMs: 500 } });
    assert.equal(await store.stat('no/such/key'), null);
    tcp.blackhole();
    const started = Date.now();
    await assert.rejects(store.stat('no/such/key'), (error: BlobError) => error.kind === 'unavailable');
    assert.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms`);
    store.client.destroy();
  });

  // Last: it empties and deletes the bucket.
  it('a deleted bucket is storage trouble, not a missing object: the job retries and confirms once the bucket is back', async () => {
    const p = await presign(h, { name: 'homeless.txt', size_bytes: 4 });
    for (const blob of await direct.list({ after: '', limit: 1000 })) await direct.delete(blob.key);
    await direct.client.send(new DeleteBucketCommand({ Bucket: direct.bucket }));

    assertError(await h.api('GET', '/readyz', { key: null }), 503, 'unavailable', 'readyz without a bucket');
    const jobId = await confirm(h, p.data_source_id);
    assert.match((await retrying(jobId)).error, /bucket does not exist/);
    assert.equal(await uploadStatus(p.data_source_id), 'pending', 'not failed as object_missing');

    await direct.client.send(new CreateBucketCommand({ Bucket: direct.bucket }));
    assert.equal((await putBytes(p, 'home')).status, 200);
    const { job: done, upload } = await settle(h, p.data_source_id, jobId);
    assert.equal(done.status, 'succeeded');
    assert.equal(upload.status, 'confirmed');
  });
});
