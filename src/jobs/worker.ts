import type PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { Metrics } from '../metrics.js';
import type { BackgroundTask, JobKind, PeriodicJob } from './job-kind.js';
import { jobsRepo } from './jobs-repo.js';
import { DEAD_LETTER_QUEUE, type JobMessage, type JobQueue } from './queue.js';
import { listenForWakes } from './wake-listener.js';

/** What the machinery itself needs; the kinds' own context is handed to them untouched. */
export interface WorkerDeps {
  db: Db;
  queue: JobQueue;
  config: Config;
  metrics: Metrics;
  log: Logger;
}

/** The kinds a worker runs, as the composition root lists them. */
export interface WorkerKinds<Ctx> {
  jobs: readonly JobKind<Ctx>[];
  periodic: readonly PeriodicJob<Ctx>[];
  background?: readonly BackgroundTask<Ctx>[];
}

/**
 * Subscribes this process to every kind given (their queues made by `queue.prepare`); returns a
 * function that stops taking new jobs.
 */
export async function startWorker<Ctx>(
  deps: WorkerDeps,
  ctx: Ctx,
  { jobs, periodic, background = [] }: WorkerKinds<Ctx>,
): Promise<() => Promise<void>> {
  const { boss } = deps.queue;
  const options = { batchSize: 1, includeMetadata: true as const, pollingIntervalSeconds: deps.config.jobs.pollingIntervalSeconds };
  const workerIds: string[] = [];
  for (const kind of jobs) {
    for (let i = 0; i < deps.config.jobs.concurrency; i++) {
      const id: string = await boss.work<JobMessage>(kind.kind, options, async ([message]) => {
        try {
          await runAttempt(deps, ctx, kind, message);
        } finally {
          // pg-boss waits out the rest of its polling interval after every job it ran, so a backlog
          // drained at one job per second per worker (4 jobs/s for two processes under bench/load):
          // a worker that just finished a job asks for the next one at once; an empty fetch still waits.
          boss.notifyWorker(id);
        }
      });
      deps.queue.registerLocalWorker(kind.kind, id);
      workerIds.push(id);
    }
  }
  workerIds.push(await boss.work<JobMessage>(DEAD_LETTER_QUEUE, options, ([message]) => closeDeadJob(deps, message)));
  for (const job of periodic) {
    await boss.schedule(job.kind, job.cron(deps.config));
    workerIds.push(await boss.work(job.kind, options, async () => void (await job.run(ctx))));
  }
  const tasks = background.map((task) => {
    const running = task.start(ctx);
    deps.queue.registerLocalWaker(task.kind, () => running.wake());
    return running;
  });
  const wakes = listenForWakes(deps.queue.connectionString, (kind) => deps.queue.wake(kind), deps.log);
  return async () => {
    await wakes.stop();
    for (const id of workerIds) await boss.offWork({ id });
    await Promise.all(tasks.map((task) => task.stop()));
  };
}

async function runAttempt<Ctx>(deps: WorkerDeps, ctx: Ctx, kind: JobKind<Ctx>, message: PgBoss.JobWithMetadata<JobMessage>): Promise<void> {
  const job = await jobsRepo.startAttempt(deps.db, message.data.jobId);
  if (!job) return; // already finished: a duplicate delivery after a lease expired
  const log = deps.log.child({ job_id: job.id, kind: kind.kind, attempt: job.attempts });
  try {
    await kind.run(ctx, job);
    // A kind that recorded its own verdict (in the transaction of its work) has finished the row already.
    await jobsRepo.finish(deps.db, job.id, { status: 'succeeded' });
    deps.metrics.jobOutcomes.inc({ kind: kind.kind, outcome: 'done' });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const lastAttempt = message.retryCount >= message.retryLimit;
    log.warn({ err: error, last_attempt: lastAttempt }, 'job attempt failed');
    deps.metrics.jobOutcomes.inc({ kind: kind.kind, outcome: lastAttempt ? 'gave_up' : 'retry' });
    if (lastAttempt) await jobsRepo.finish(deps.db, job.id, { status: 'failed', error: `gave up after ${job.attempts} attempts: ${text}` });
    else await jobsRepo.requeue(deps.db, job.id, text);
    throw error; // pg-boss schedules the next attempt with backoff
  }
}

/** A job whose attempts all ended without a verdict (errors or a dead worker's expired lease). */
async function closeDeadJob(deps: WorkerDeps, message: PgBoss.JobWithMetadata<JobMessage>): Promise<void> {
  const job = await jobsRepo.find(deps.db, message.data.jobId);
  if (!job || job.status === 'succeeded' || job.status === 'failed') return;
  await jobsRepo.finish(deps.db, job.id, {
    status: 'failed',
    error: `gave up after ${job.attempts} attempts${job.error ? `: ${job.error}` : ''}`,
  });
}
