/**
 * Issue 13, part 3: a cluster of 2 `stowage serve` + 2 `stowage worker` processes (the built CLI) on
 * one database and one blob store, driven by one client that alternates API nodes: no request relies
 * on the node that served the one before (no sticky sessions). On the s3 driver under S3_TEST_ENDPOINT
 * (Ceph RGW in CI), else on the local driver with one data folder shared by every node.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { clusterSkip, fetchSha, putSigned, sha256, startTestCluster, type TestCluster } from './helpers/cluster-test.js';
import { sendForm } from './helpers/forms.js';
import type { Harness } from './helpers/harness.js';

const MIB = 1024 * 1024;

describe('a cluster of 2 API and 2 worker processes, one client alternating API nodes', { skip: clusterSkip }, () => {
  let c: TestCluster;
  let dir: string;
  before(async () => {
    c = await startTestCluster();
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-cluster-flow-'));
  });
  after(async () => {
    await c?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const a = () => c.apis[0]!;
  const b = () => c.apis[1]!;

  /** The upload's row as PostgreSQL holds it, and how many rows carry its blob key. */
  async function row(id: string) {
    const { rows } = await c.sql.query(
      `SELECT u.status, u.sha256, u.size_bytes::int AS size, u.blob_key,
              (SELECT count(*)::int FROM uploads o WHERE o.blob_key = u.blob_key) AS sharing_blob,
              j.status AS job_status
         FROM uploads u LEFT JOIN jobs j ON j.id = u.confirm_job_id WHERE u.id = $1`,
      [id],
    );
    return rows[0];
  }

  it('presign on one node, PUT, confirm on the other, the job polled on either', async () => {
    const bytes = randomBytes(3 * MIB + 17);
    const presigned = await c.api(a(), 'POST', '/api/v1/uploads/presign', {
      body: { name: 'alternate.bin', size_bytes: bytes.length, sha256: sha256(bytes) },
    });
    assert.equal(presigned.status, 200, JSON.stringify(presigned.body));
    assert.equal((await putSigned(presigned.body, bytes)).status, 200);
    const confirmed = await c.api(b(), 'POST', '/api/v1/uploads/confirm', { body: { data_source_id: presigned.body.data_source_id } });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    const job = await c.settled(confirmed.body.job_id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));

    const id = presigned.body.data_source_id;
    const stored = await row(id);
    assert.deepEqual(
      [stored.status, stored.sha256, stored.size, stored.sharing_blob, stored.job_status],
      ['confirmed', sha256(bytes), bytes.length, 1, 'succeeded'],
    );
    for (const node of [a(), b()]) {
      const seen = await c.api(node, 'GET', `/api/v1/uploads/${id}`);
      assert.deepEqual([seen.body.status, seen.body.sha256], ['confirmed', sha256(bytes)], `as ${node.name} sees it`);
    }
    const url = await c.api(a(), 'GET', `/api/v1/uploads/${id}/download-url`);
    assert.deepEqual(await fetchSha(url.body.url), { status: 200, sha256: sha256(bytes), size: bytes.length });
  });

  it('multipart: started on one node, parts presigned and sent through both, completed on the other', async () => {
    const partSize = 5 * MIB;
    const bytes = randomBytes(4 * partSize + 12_345);
    const started = await c.api(a(), 'POST', '/api/v1/uploads/multipart', {
      body: { name: 'spread.bin', size_bytes: bytes.length, part_size: partSize, sha256: sha256(bytes) },
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const id = started.body.data_source_id;
    assert.equal(started.body.part_count, 5);

    const etags: { part_number: number; etag: string }[] = [];
    const through: string[] = [];
    for (let n = 1; n <= 5; n++) {
      // Odd parts presigned on (and, on the local driver, sent to) one node, even parts on the other.
      const node = n % 2 ? a() : b();
      const urls = await c.api(node, 'POST', `/api/v1/uploads/${id}/parts`, { body: { part_numbers: [n] } });
      assert.equal(urls.status, 200, JSON.stringify(urls.body));
      const [part] = urls.body.parts;
      if (c.driver === 'local') assert.ok(part.url.startsWith(node.server.url), `part ${n} goes to ${node.name}`);
      through.push(new URL(part.url).host);
      const put = await putSigned(part, bytes.subarray((n - 1) * partSize, n * partSize));
      assert.equal(put.status, 200, await put.clone().text());
      etags.push({ part_number: n, etag: put.headers.get('etag')! });
    }
    if (c.driver === 'local') assert.equal(new Set(through).size, 2, 'the parts went through both nodes');
    const listed = await c.api(b(), 'GET', `/api/v1/uploads/${id}/parts`);
    assert.deepEqual(
      listed.body.parts.map((p: { part_number: number }) => p.part_number),
      [1, 2, 3, 4, 5],
      'either node lists the parts both took',
    );

    const completed = await c.api(b(), 'POST', `/api/v1/uploads/${id}/complete`, { body: { parts: etags } });
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    const job = await c.settled(completed.body.job_id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    const stored = await row(id);
    assert.deepEqual([stored.status, stored.sha256, stored.size], ['confirmed', sha256(bytes), bytes.length]);
    const url = await c.api(a(), 'GET', `/api/v1/uploads/${id}/download-url`);
    assert.deepEqual(await fetchSha(url.body.url), { status: 200, sha256: sha256(bytes), size: bytes.length });
  });

  it('a streamed upload on one node, its download URL from the other', async () => {
    const bytes = randomBytes(2 * MIB + 5);
    const sent = await sendForm({ url: b().server.url } as Harness, {
      bytes,
      filename: 'streamed.bin',
      key: c.adminKey,
      contentLength: true,
    }).finish();
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.deepEqual([sent.body.status, sent.body.sha256], ['confirmed', sha256(bytes)]);
    const stored = await row(sent.body.id);
    assert.deepEqual(
      [stored.status, stored.sha256, stored.size, stored.job_status],
      ['confirmed', sha256(bytes), bytes.length, 'succeeded'],
    );
    const url = await c.api(a(), 'GET', `/api/v1/uploads/${sent.body.id}/download-url`);
    assert.deepEqual(await fetchSha(url.body.url), { status: 200, sha256: sha256(bytes), size: bytes.length });
  });

  it('the CLI uploads through one node (presign and multipart) and downloads through the other', async () => {
    const small = path.join(dir, 'small.bin');
    const large = path.join(dir, 'large.bin');
    await writeFile(small, randomBytes(MIB + 3));
    await writeFile(large, randomBytes(2 * 5 * MIB + 999));
    const cache = path.join(dir, 'cache');
    const upload = await runCli(['upload', small, large, '--part-size', '5MiB', '--parallel', '2'], {
      STOWAGE_URL: a().server.url,
      STOWAGE_API_KEY: c.adminKey,
      STOWAGE_CACHE_DIR: cache,
    });
    assert.equal(upload.code, 0, upload.stderr);
    const ids = upload.stdout.trim().split('\n');
    assert.equal(ids.length, 2, upload.stdout);
    for (const [i, file] of [small, large].entries()) {
      const expected = sha256(await readFile(file));
      const stored = await row(ids[i]!);
      assert.deepEqual([stored.status, stored.sha256], ['confirmed', expected], path.basename(file));
      const out = path.join(dir, `copy-${i}.bin`);
      const download = await runCli(['download', ids[i]!, '-o', out], { STOWAGE_URL: b().server.url, STOWAGE_API_KEY: c.adminKey });
      assert.equal(download.code, 0, download.stderr);
      assert.equal(sha256(await readFile(out)), expected, `${path.basename(file)} round-trips`);
    }
  });
});
