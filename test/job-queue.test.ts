/**
 * The job machinery on its own: any kind handed to it runs, jobs enqueued in a transaction exist
 * exactly when it commits, and the workers of the enqueuing process are woken at the commit rather
 * than at their next poll.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { JobKind } from '../src/jobs/job-kind.js';
import { startWorker } from '../src/jobs/worker.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';

describe('job kinds and queue.transaction', () => {
  let h: Harness;
  let stop: () => Promise<void>;
  const ran: { subject: string; at: number; ctx: string }[] = [];
  // A kind this test makes up: the machinery knows no kind by name.
  const echo: JobKind<{ label: string }> = {
    kind: 'test-echo',
    lease: () => 30,
    async run(ctx, job) {
      ran.push({ subject: job.subject_id, at: Date.now(), ctx: ctx.label });
    },
  };

  before(async () => {
    // Polls far apart: a job picked up within a second was woken, not found by a poll.
    h = await startStowage({ STOWAGE_JOB_POLL_SECONDS: '30' }, { worker: false });
    const { queue, database, metrics, logger, config } = h.runtime;
    await queue.prepare([echo], []);
    stop = await startWorker(
      { db: database.db, queue, config, metrics, log: logger },
      { label: 'given by the caller' },
      { jobs: [echo], periodic: [] },
    );
  });
  after(async () => {
    await stop();
    await h.close();
  });

  const jobsOf = (subject: string) => h.runtime.database.db.selectFrom('jobs').selectAll().where('subject_id', '=', subject).execute();

  it('runs a committed job at once, with the context the worker was given, and finishes its row', async () => {
    const subject = randomUUID();
    const committedAt = Date.now();
    const job = await h.runtime.queue.transaction(h.runtime.database.db, (t) => t.enqueue(echo, { orgId: h.orgId, subjectId: subject }));
    assert.equal(job.kind, 'test-echo');
    const run = await eventually(async () => ran.find((r) => r.subject === subject), 'the echo job to run', 10_000);
    assert.ok(run.at - committedAt < 5000, `picked up ${run.at - committedAt} ms after the commit; polls are 30 s apart`);
    assert.equal(run.ctx, 'given by the caller');
    const row = await eventually(async () => (await jobsOf(subject)).find((j) => j.status === 'succeeded'), 'the job row to finish');
    assert.equal(row.attempts, 1);
  });

  it('leaves neither a job row nor a delivery when the transaction rolls back', async () => {
    const subject = randomUUID();
    const deliveries = async () =>
      (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pgboss.job WHERE name = ${echo.kind}`.execute(h.runtime.database.db)).rows[0]
        .n;
    const before = await deliveries();
    await assert.rejects(
      h.runtime.queue.transaction(h.runtime.database.db, async (t) => {
        await t.enqueue(echo, { orgId: h.orgId, subjectId: subject });
        assert.equal(await deliveries(), before, 'outside the transaction nothing shows yet');
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.deepEqual(await jobsOf(subject), []);
    assert.equal(await deliveries(), before, 'no delivery survives the rollback');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(ran.filter((r) => r.subject === subject).length, 0, 'nothing ran for the rolled-back job');
  });
});
