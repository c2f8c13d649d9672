/**
 * Issue 13, part 3: an API node killed with -9 in the middle of requests; the client retries each on
 * the other node with the same Idempotency-Key. The dead node's records stay "in progress" (409,
 * retryable, Retry-After) until its liveness lease expires (three missed heartbeats), then the retry
 * takes them over and runs: nothing is done twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { type Answer, clusterSkip, putSigned, sha256, startTestCluster, type TestCluster } from './helpers/cluster-test.js';
import { sendForm } from './helpers/forms.js';
import type { Harness } from './helpers/harness.js';
import { LEASE_EXPIRES_SECONDS } from '../src/db/process-lease.js';

const MIB = 1024 * 1024;

/** A form upload whose head and first half are sent, the rest held back: a request in flight for real. */
function halfSentForm(url: string, apiKey: string, idempotencyKey: string, bytes: Buffer, filename: string) {
  const boundary = `----stowage-half-${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const request = http.request(`${url}/api/v1/uploads`, {
    method: 'POST',
    headers: {
      'x-api-key': apiKey,
      'idempotency-key': idempotencyKey,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': head.length + bytes.length + tail.length,
    },
  });
  const ended = new Promise<string>((resolve) => {
    request.on('response', (response) => resolve(`answered ${response.statusCode}`));
    request.on('error', (error) => resolve(`broke off: ${error.message}`));
  });
  request.write(head);
  request.write(bytes.subarray(0, bytes.length / 2));
  return ended;
}

describe('an API node killed with -9 mid-request', { skip: clusterSkip }, () => {
  let c: TestCluster;
  before(async () => {
    c = await startTestCluster();
  });
  after(() => c?.close());

  /** Every blob key storage holds for the org (the local driver's folder, or the bucket). */
  async function storedKeys(orgId: string): Promise<string[]> {
    if (c.driver === 'local') {
      const folder = path.join(c.sharedDataDir!, 'blobs', orgId);
      return (await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []))
        .filter((entry) => entry.isFile())
        .map((entry) => `${orgId}/${path.relative(folder, path.join(entry.parentPath, entry.name))}`);
    }
    const s3 = new S3Client({
      endpoint: c.env.S3_ENDPOINT,
      region: c.env.S3_REGION!,
      forcePathStyle: true,
      credentials: { accessKeyId: c.env.S3_ACCESS_KEY_ID!, secretAccessKey: c.env.S3_SECRET_ACCESS_KEY! },
    });
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: c.env.S3_BUCKET, Prefix: `${orgId}/` }));
      return (listed.Contents ?? []).map((object) => object.Key!);
    } finally {
      s3.destroy();
    }
  }

  it('retries on the other node with the same Idempotency-Key: each request done once', async (t) => {
    const [a, b] = c.apis as [(typeof c.apis)[0], (typeof c.apis)[0]];
    const { rows: orgs } = await c.sql.query(`SELECT id FROM orgs WHERE name = 'default'`);
    const orgId: string = orgs[0].id;
    // Under a quota every new upload row is written inside a transaction that holds the org's quota turn. The
    // presign below is then held, by the lock on uploads, inside a transaction that dies with its node. Without
    // one, its row is a single INSERT that PostgreSQL still commits once the lock is released after the node
    // died: the effect lands, its answer is never stored, and the retry presigns again (the window between a
    // commit and the stored answer, see docs/operations.md "Running several processes").
    const policy = await c.api(b, 'PUT', '/api/v1/policy', { body: { quota_bytes: 1024 * MIB } });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));

    // A multipart upload whose parts are stored (through the node that survives), to be completed on the one that dies.
    const partSize = 5 * MIB;
    const multipartBytes = randomBytes(partSize + 4321);
    const started = await c.api(b, 'POST', '/api/v1/uploads/multipart', {
      body: { name: 'completed-once.bin', size_bytes: multipartBytes.length, part_size: partSize, sha256: sha256(multipartBytes) },
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const multipartId: string = started.body.data_source_id;
    const urls = (await c.api(b, 'POST', `/api/v1/uploads/${multipartId}/parts`, { body: { part_numbers: [1, 2] } })).body.parts;
    const parts: { part_number: number; etag: string }[] = [];
    for (const part of urls) {
      const put = await putSigned(part, multipartBytes.subarray((part.part_number - 1) * partSize, part.part_number * partSize));
      assert.equal(put.status, 200);
      parts.push({ part_number: part.part_number, etag: put.headers.get('etag')! });
    }

    const presignBody = { name: 'presigned-once.bin', size_bytes: 1000 };
    const streamedBytes = randomBytes(4 * MIB);
    // Writes to uploads wait behind this lock: the presign and the completion stop mid-request, inside
    // their transactions (the completion after storage assembled the file), until the node is dead.
    const locker = new (await import('pg')).default.Client({ connectionString: c.databaseUrl });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE uploads IN SHARE MODE');
    const firstTries: Promise<unknown>[] = [];
    try {
      firstTries.push(
        c.api(a, 'POST', '/api/v1/uploads/presign', { body: presignBody, headers: { 'idempotency-key': 'kill-presign' } }).catch((e) => e),
        c
          .api(a, 'POST', `/api/v1/uploads/${multipartId}/complete`, { body: { parts }, headers: { 'idempotency-key': 'kill-complete' } })
          .catch((e) => e),
        halfSentForm(a.server.url, c.adminKey, 'kill-streamed', streamedBytes, 'streamed-once.bin'),
      );
      const deadline = Date.now() + 30_000;
      for (;;) {
        const held = await locker.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))`,
        );
        const records = await locker.query(`SELECT key FROM idempotency_keys WHERE state = 'in_flight'`);
        if (records.rowCount === 3) break;
        if (Date.now() > deadline) {
          const sessions = await locker.query(
            `SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 120) AS query, pg_blocking_pids(pid) AS blockers
               FROM pg_stat_activity WHERE datname = current_database()`,
          );
          assert.fail(
            `requests not in flight: ${held.rows[0].n} waiting, records ${JSON.stringify(records.rows)}; ${JSON.stringify(sessions.rows)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // The others reach the lock, or wherever they are held, meanwhile: where each one is cut off, its retry must cope.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await c.kill(a);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const killedAt = Date.now();
    await Promise.all(firstTries);

    /** Retries on the surviving node while it answers "in progress"; the answers seen on the way. */
    async function retry(send: () => Promise<Answer>): Promise<{ final: Answer; busy: Answer[] }> {
      const busy: Answer[] = [];
      for (;;) {
        const answer = await send();
        if (answer.status !== 409 || !answer.body?.error?.retryable) return { final: answer, busy };
        busy.push(answer);
        assert.ok(Date.now() - killedAt < (LEASE_EXPIRES_SECONDS + 30) * 1000, 'still in progress long after the lease expired');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    const presign = await retry(() =>
      c.api(b, 'POST', '/api/v1/uploads/presign', { body: presignBody, headers: { 'idempotency-key': 'kill-presign' } }),
    );
    const complete = await retry(() =>
      c.api(b, 'POST', `/api/v1/uploads/${multipartId}/complete`, { body: { parts }, headers: { 'idempotency-key': 'kill-complete' } }),
    );
    const streamed = await retry(() =>
      sendForm({ url: b.server.url } as Harness, {
        bytes: streamedBytes,
        filename: 'streamed-once.bin',
        key: c.adminKey,
        idempotencyKey: 'kill-streamed',
        contentLength: true,
      }).finish(),
    );

    // While the dead node's lease was fresh, the retry was told to wait, with a Retry-After.
    assert.ok(presign.busy.length > 0, 'the first retry, at once, found the request in progress');
    assert.match(presign.busy[0]!.headers.get('retry-after') ?? '', /^\d+$/);
    assert.ok(Date.now() - killedAt >= (LEASE_EXPIRES_SECONDS - 5) * 1000, 'taken over only once the lease had expired');

    assert.equal(presign.final.status, 200, JSON.stringify(presign.final.body));
    assert.equal(presign.final.headers.get('idempotent-replayed'), null, 'run afresh: the first never finished');
    assert.equal(streamed.final.status, 201, JSON.stringify(streamed.final.body));
    assert.deepEqual([streamed.final.body.status, streamed.final.body.sha256], ['confirmed', sha256(streamedBytes)]);
    const { rows } = await c.sql.query(`SELECT name, status, sha256, blob_key FROM uploads u WHERE org_id = $1 ORDER BY name`, [orgId]);
    assert.deepEqual(
      rows.map((r) => r.name),
      ['completed-once.bin', 'presigned-once.bin', 'streamed-once.bin'],
      'one upload row per request',
    );
    const [completedRow, presignedRow, streamedRow] = rows;
    assert.equal(presignedRow.status, 'pending');
    assert.deepEqual([streamedRow.status, streamedRow.sha256], ['confirmed', sha256(streamedBytes)]);
    // The completion's file may be assembled in storage already (the node died after that): one blob each, nothing else.
    const stored = (await storedKeys(orgId)).filter((key) => key !== completedRow.blob_key);
    assert.deepEqual(stored, [streamedRow.blob_key], 'one blob for the streamed upload, none for the cut-off first try');

    await t.test('the completion retried after its node died past assembling the file', async () => {
      assert.equal(complete.final.status, 200, JSON.stringify(complete.final.body));
      const job = await c.settled(complete.final.body.job_id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job));
      const { rows: after } = await c.sql.query('SELECT status, sha256 FROM uploads WHERE id = $1', [multipartId]);
      assert.deepEqual([after[0].status, after[0].sha256], ['confirmed', sha256(multipartBytes)]);
    });

    // Done now: each key replays its stored answer, on either node.
    const again = await c.api(b, 'POST', '/api/v1/uploads/presign', {
      body: presignBody,
      headers: { 'idempotency-key': 'kill-presign' },
    });
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.data_source_id, presign.final.body.data_source_id);
  });
});
