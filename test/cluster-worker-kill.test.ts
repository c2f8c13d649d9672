/**
 * Issue 13, part 3: in a cluster of 2 API + 2 worker processes, the worker hashing a 200 MiB upload is
 * killed with -9 in the middle of it; its job's lease runs out and the other worker finishes it, once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClusterNode } from './helpers/cluster.js';
import { clusterSkip, putSigned, sha256, startTestCluster, type TestCluster } from './helpers/cluster-test.js';

const MIB = 1024 * 1024;
const SIZE = 200 * MIB;
const PART = 25 * MIB;

/** Bytes this process has read so far (files and sockets alike), from /proc. */
async function bytesRead(node: ClusterNode): Promise<number> {
  const io = await readFile(`/proc/${node.server.child.pid}/io`, 'utf8').catch(() => '');
  return Number(/^rchar:\s+(\d+)/m.exec(io)?.[1] ?? 0);
}

/** SIGSTOP / SIGCONT: a worker frozen takes no job until it is let go. */
const signal = (node: ClusterNode, name: 'SIGSTOP' | 'SIGCONT') => process.kill(node.server.child.pid!, name);

describe('a worker killed with -9 mid-hash of a 200 MiB confirm', { skip: clusterSkip }, () => {
  let c: TestCluster;
  before(async () => {
    // The lease of a 200 MiB confirm: 8 s, plus the 10 s reading 200 MiB at the slowest rate allowed for.
    c = await startTestCluster({ STOWAGE_JOB_LEASE_SECONDS: '8' });
  });
  after(() => c?.close());

  it('the other worker finishes the job after its lease runs out: confirmed once, with the right sha256', async () => {
    const bytes = randomBytes(SIZE);
    const digest = sha256(bytes);
    const [a, b] = c.apis;
    const started = await c.api(a!, 'POST', '/api/v1/uploads/multipart', {
      body: { name: 'big.bin', size_bytes: SIZE, part_size: PART, sha256: digest },
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const id: string = started.body.data_source_id;
    const parts = [];
    for (let n = 1; n <= SIZE / PART; n++) {
      const node = n % 2 ? a! : b!;
      const [part] = (await c.api(node, 'POST', `/api/v1/uploads/${id}/parts`, { body: { part_numbers: [n] } })).body.parts;
      const put = await putSigned(part, bytes.subarray((n - 1) * PART, n * PART));
      assert.equal(put.status, 200);
      parts.push({ part_number: n, etag: put.headers.get('etag')! });
    }

    // Both workers frozen while the job is made, so the test sees which one takes it.
    for (const worker of c.workers) signal(worker, 'SIGSTOP');
    let jobId: string;
    try {
      const completed = await c.api(b!, 'POST', `/api/v1/uploads/${id}/complete`, { body: { parts } });
      assert.equal(completed.status, 200, JSON.stringify(completed.body));
      jobId = completed.body.job_id;
      if (c.driver === 'local') {
        // The completing node hashed the file and kept its digest, so the job would only read its head:
        // without it (as after a crash, the digest is not fsynced) the job hashes all 200 MiB itself.
        const { rows } = await c.sql.query('SELECT blob_key FROM uploads WHERE id = $1', [id]);
        await rm(path.join(c.sharedDataDir!, 'blobs', '.sha256', rows[0].blob_key));
      }
    } finally {
      for (const worker of c.workers) signal(worker, 'SIGCONT');
    }

    // Whoever reads the bytes holds the job: the idle one only polls the database.
    const before = await Promise.all(c.workers.map(bytesRead));
    let holder: ClusterNode | undefined;
    let readAtKill = 0;
    const deadline = Date.now() + 60_000;
    while (!holder) {
      assert.ok(Date.now() < deadline, 'no worker started reading the upload within 60 s');
      const now = await Promise.all(c.workers.map(bytesRead));
      const i = now.findIndex((n, w) => n - before[w]! > 8 * MIB);
      if (i >= 0) {
        holder = c.workers[i]!;
        await c.kill(holder);
        readAtKill = now[i]! - before[i]!;
      } else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const midway = await c.sql.query(
      'SELECT u.status, j.status AS job, j.attempts FROM uploads u JOIN jobs j ON j.id = $2 WHERE u.id = $1',
      [id, jobId!],
    );
    assert.deepEqual([midway.rows[0].status, midway.rows[0].job], ['pending', 'running'], 'killed before any verdict');
    assert.ok(readAtKill < SIZE, `killed mid-hash: it had read ${readAtKill} of ${SIZE} bytes`);

    const survivor = c.workers.find((w) => w !== holder)!;
    const readBefore = await bytesRead(survivor);
    const job = await c.settled(jobId!, 90_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    assert.ok(job.attempts >= 2, `attempts: ${job.attempts}`);
    assert.ok((await bytesRead(survivor)) - readBefore >= SIZE, 'the surviving worker read the whole file');

    const { rows } = await c.sql.query(
      `SELECT u.status, u.sha256, u.size_bytes::int AS size,
              (SELECT count(*)::int FROM jobs j WHERE j.subject_id = u.id AND j.kind = 'confirm') AS confirm_jobs
         FROM uploads u WHERE u.id = $1`,
      [id],
    );
    assert.deepEqual(rows[0], { status: 'confirmed', sha256: digest, size: SIZE, confirm_jobs: 1 });
    const seen = await c.api(a!, 'GET', `/api/v1/uploads/${id}`);
    assert.deepEqual([seen.body.status, seen.body.sha256], ['confirmed', digest]);
  });
});
