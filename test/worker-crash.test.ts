import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type Harness, SIGNING_SECRET, eventually, startStowage } from './helpers/harness.js';
import { spawnCli } from './helpers/cli.js';
import { confirm, presign, putBytes, sha256 } from './helpers/uploads.js';

const JOB_ENV = {
  STOWAGE_JOB_LEASE_SECONDS: '2',
  STOWAGE_JOB_MAINTENANCE_SECONDS: '1',
  STOWAGE_JOB_POLL_SECONDS: '0.5',
  STOWAGE_JOB_RETRY_DELAY_SECONDS: '1',
};

describe('a worker killed mid-job', () => {
  let h: Harness;
  before(async () => {
    // No in-process worker: the jobs run in `stowage worker` child processes this test kills.
    h = await startStowage(JOB_ENV, { worker: false });
  });
  after(() => h.close());

  const workerEnv = () => ({
    ...JOB_ENV,
    ...h.storageEnv,
    DATABASE_URL: h.databaseUrl,
    STOWAGE_DATA_DIR: h.dataDir,
    STOWAGE_SIGNING_SECRET: SIGNING_SECRET,
  });

  it('leaves the job to another worker after restart, which completes it', async () => {
    const bytes = Buffer.from('survives a crash\n');
    const p = await presign(h, { name: 'crash.txt', size_bytes: bytes.length, sha256: sha256(bytes) });
    assert.equal((await putBytes(p, bytes)).status, 200);

    const jobId = await confirm(h, p.data_source_id);
    // Hold the upload's row lock so the worker stops exactly at its verdict transaction.
    const blocker = new pg.Client({ connectionString: h.databaseUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT id FROM uploads WHERE id = $1 FOR UPDATE', [p.data_source_id]);
    const first = spawnCli(['worker'], { ...workerEnv(), LOG_LEVEL: 'warn' });
    let firstOutput = '';
    first.stdout?.on('data', (d) => (firstOutput += d));
    first.stderr?.on('data', (d) => (firstOutput += d));
    try {
      const job = await eventually(
        async () => {
          const answer = (await h.api('GET', `/api/v1/jobs/${jobId}`)).body;
          return answer.status === 'running' ? answer : undefined;
        },
        'the first worker to start the job',
        60_000,
      );
      // Let it reach the lock wait, then kill it without any chance to clean up.
      await eventually(
        async () => {
          const { rowCount } = await blocker.query(
            // Whoever waits on our row lock is the worker at its verdict (query texts can lag behind).
            'SELECT 1 FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))',
          );
          return rowCount ? true : undefined;
        },
        'the worker to wait on the row lock',
        60_000,
      ).catch(async (error: Error) => {
        const activity = await blocker.query(
          "SELECT a.pid, a.application_name, a.state, a.wait_event_type, a.wait_event, left(a.query, 90) AS query, pg_blocking_pids(a.pid) AS blockers, (SELECT string_agg(l.locktype || ':' || l.mode || ':' || coalesce(l.relation::regclass::text, ''), ',') FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS waiting FROM pg_stat_activity a WHERE a.datname = current_database() AND a.application_name <> 'stowage-queue'",
        );
        throw new Error(
          `${error.message}; job ${JSON.stringify(job)}; sessions ${JSON.stringify(activity.rows)}; worker said: ${firstOutput.slice(-2000)}`,
        );
      });
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
    } finally {
      first.kill('SIGKILL');
      await blocker.query('COMMIT');
      await blocker.end();
    }

    const midway = (await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body;
    assert.equal(midway.status, 'pending', 'the killed worker decided nothing');

    const second = spawnCli(['worker'], workerEnv());
    try {
      const job = await eventually(
        async () => {
          const answer = (await h.api('GET', `/api/v1/jobs/${jobId}`)).body;
          return answer.status === 'succeeded' || answer.status === 'failed' ? answer : undefined;
        },
        'the restarted worker to finish the job',
        60_000,
      );
      assert.equal(job.status, 'succeeded');
      assert.ok(job.attempts >= 2, `attempts: ${job.attempts}`);
      const upload = (await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body;
      assert.equal(upload.status, 'confirmed');
      assert.equal(upload.sha256, sha256(bytes));
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
    }
  });
});
