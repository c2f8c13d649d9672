/**
 * A confirm job whose storage fault outlasts every attempt: where it ends, what the upload shows, and
 * how the client gets it done once storage is repaired.
 */
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { DEAD_LETTER_QUEUE } from '../src/jobs/queue.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { confirm, presign, settle, sha256 } from './helpers/uploads.js';

describe('job retry exhaustion', () => {
  let h: Harness;
  before(async () => {
    // The fault is a folder where the blob should be, which only the local driver has.
    h = await startStowage({ STOWAGE_JOB_RETRY_LIMIT: '1' }, { storage: 'local' });
  });
  after(() => h.close());

  it('after its last attempt the job ends failed, dead-lettered, the upload stays pending, and a retry confirms it', async () => {
    const p = await presign(h, { name: 'stuck.txt' });
    const blobPath = path.join(h.dataDir, 'blobs', h.orgId, p.data_source_id);
    await mkdir(blobPath, { recursive: true }); // stat finds it, reading fails with EISDIR: no verdict, a fault
    const jobId = await confirm(h, p.data_source_id);

    const { job, upload } = await settle(h, p.data_source_id, jobId);
    assert.equal(job.status, 'failed');
    assert.equal(job.attempts, 2, 'one attempt and the one retry STOWAGE_JOB_RETRY_LIMIT allows');
    assert.match(job.error, /^gave up after 2 attempts: .*EISDIR/);
    assert.equal(upload.status, 'pending', 'a fault is no verdict on the bytes');
    assert.equal(upload.failure_reason, null);

    // pg-boss handed the exhausted delivery to the dead-letter queue, whose worker saw it through.
    const dead = await eventually(async () => {
      const { rows } = await sql<{
        state: string;
      }>`SELECT state FROM pgboss.job WHERE name = ${DEAD_LETTER_QUEUE} AND data->>'jobId' = ${jobId}`.execute(h.runtime.database.db);
      return rows[0]?.state === 'completed' ? rows[0] : undefined;
    }, 'the dead-letter delivery');
    assert.equal(dead.state, 'completed');

    await rm(blobPath, { recursive: true });
    await h.runtime.blobs.put(`${h.orgId}/${p.data_source_id}`, Readable.from([Buffer.from('unstuck')]));
    const retried = await h.api('POST', `/api/v1/uploads/${p.data_source_id}/retry`);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    const newJob = await confirm(h, p.data_source_id); // confirm answers the job the retry started
    assert.notEqual(newJob, jobId);
    const again = await settle(h, p.data_source_id, newJob);
    assert.equal(again.job.status, 'succeeded');
    assert.equal(again.upload.status, 'confirmed');
    assert.equal(again.upload.sha256, sha256('unstuck'));
  });
});
