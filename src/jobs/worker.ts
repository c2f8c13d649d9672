import type PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { JobRow } from '../db/schema.js';
import type { Metrics } from '../metrics.js';
import { runConfirm } from '../modules/uploads/confirm-job.js';
import { runPreview } from '../modules/previews/preview-job.js';
import { jobsRepo } from './jobs-repo.js';
import { DEAD_LETTER_QUEUE, type JobKind, type JobMessage, type JobQueue, SWEEP_QUEUE } from './queue.js';
import { runSweep } from '../modules/sweeper/sweep-job.js';
import { listenForWakes } from './wake-listener.js';

export interface WorkerDeps {
  db: Db;
  blobs: BlobStore;
  queue: JobQueue;
  config: Config;
  metrics: Metrics;
  log: Logger;
}

type Handler = (deps: WorkerDeps, job: JobRow) => Promise<void>;

const HANDLERS: Record<JobKind, Handler> = {
  confirm: runConfirm,
  preview: runPreview,
};

/** Subscribes this process to every job kind; returns a function that stops taking new jobs. */
export async function startWorker(deps: WorkerDeps): Promise<() => Promise<void>> {
  const { boss } = deps.queue;
  const options = { batchSize: 1, includeMetadata: true as const, pollingIntervalSeconds: deps.config.jobs.pollingIntervalSeconds };
  const workerIds: string[] = [];
  for (const kind of Object.keys(HANDLERS) as JobKind[]) {
    for (let i = 0; i < deps.config.jobs.concurrency; i++) {
      const id = await boss.work<JobMessage>(kind, options, ([message]) => runAttempt(deps, kind, message));
      deps.queue.registerLocalWorker(kind, id);
      workerIds.push(id);
    }
  }
  workerIds.push(await boss.work<JobMessage>(DEAD_LETTER_QUEUE, options, ([message]) => closeDeadJob(deps, message)));
  await boss.schedule(SWEEP_QUEUE, deps.config.sweeper.cron);
  workerIds.push(await boss.work(SWEEP_QUEUE, options, async () => void (await runSweep(deps))));
  const wakes = listenForWakes(deps.queue.connectionString, (kind) => deps.queue.wake(kind), deps.log);
  return async () => {
    await wakes.stop();
    for (const id of workerIds) await boss.offWork({ id });
  };
}

async function runAttempt(deps: WorkerDeps, kind: JobKind, message: PgBoss.JobWithMetadata<JobMessage>): Promise<void> {
  const job = await jobsRepo.startAttempt(deps.db, message.data.jobId);
  if (!job) return; // already finished: a duplicate delivery after a lease expired
  const log = deps.log.child({ job_id: job.id, kind, attempt: job.attempts });
  try {
    await HANDLERS[kind](deps, job);
    deps.metrics.jobOutcomes.inc({ kind, outcome: 'done' });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const lastAttempt = message.retryCount >= message.retryLimit;
    log.warn({ err: error, last_attempt: lastAttempt }, 'job attempt failed');
    deps.metrics.jobOutcomes.inc({ kind, outcome: lastAttempt ? 'gave_up' : 'retry' });
    if (lastAttempt) await jobsRepo.finish(deps.db, job.id, { status: 'failed', error: `gave up after ${job.attempts} attempts: ${text}` });
    else await jobsRepo.requeue(deps.db, job.id, text);
    throw error; // pg-boss schedules the next attempt with backoff
  }
}

/** A job whose attempts all ended without a verdict (errors or a dead worker's expired lease). */
async function closeDeadJob(deps: WorkerDeps, message: PgBoss.JobWithMetadata<JobMessage>): Promise<void> {
  const job = await jobsRepo.find(deps.db, message.data.jobId);
  if (!job || job.status === 'succeeded' || job.status === 'failed') return;
  await jobsRepo.finish(deps.db, job.id, { status: 'failed', error: `gave up after ${job.attempts} attempts${job.error ? `: ${job.error}` : ''}` });
}
