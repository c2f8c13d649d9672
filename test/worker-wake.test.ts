import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type Harness, SIGNING_SECRET, eventually, startStowage } from './helpers/harness.js';
import { spawnCli } from './helpers/cli.js';
import { confirm, presign, putBytes, sha256 } from './helpers/uploads.js';

// Workers poll this rarely here, so a prompt verdict can only come from the wake the commit sends.
const SLOW_POLL = { STOWAGE_JOB_POLL_SECONDS: '60' };

describe('a worker in another process', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage(SLOW_POLL, { worker: false });
  });
  after(() => h.close());

  it('is woken by the commit that enqueues a job, not left to its next poll', async () => {
    const worker = spawnCli(['worker'], {
      ...SLOW_POLL,
      ...h.storageEnv,
      DATABASE_URL: h.databaseUrl,
      STOWAGE_DATA_DIR: h.dataDir,
      STOWAGE_SIGNING_SECRET: SIGNING_SECRET,
      LOG_LEVEL: 'info',
    });
    let output = '';
    worker.stdout?.on('data', (d) => (output += d));
    worker.stderr?.on('data', (d) => (output += d));
    try {
      // Ready once its wake listener is LISTENing on this database: the worker's first poll, made as it
      // started, is then behind it, and the next one 60 s away.
      await eventually(
        async () => {
          const listening = await sql<{ pid: number }>`
          SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'stowage-wake' AND query LIKE 'LISTEN %'`.execute(
            h.runtime.database.db,
          );
          return listening.rows.length ? true : undefined;
        },
        "the worker's wake listener",
        60_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; worker said: ${output.slice(-2000)}`);
      });
      const bytes = Buffer.from('wake up\n');
      const p = await presign(h, { name: 'wake.txt', size_bytes: bytes.length, sha256: sha256(bytes) });
      assert.equal((await putBytes(p, bytes)).status, 200);
      const jobId = await confirm(h, p.data_source_id);
      const job = await eventually(
        async () => {
          const answer = (await h.api('GET', `/api/v1/jobs/${jobId}`)).body;
          return answer.status === 'succeeded' || answer.status === 'failed' ? answer : undefined;
        },
        'the other process to run the job',
        20_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; worker said: ${output.slice(-2000)}`);
      });
      assert.equal(job.status, 'succeeded');
      assert.equal((await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body.status, 'confirmed');
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});
