import type { Config } from '../config.js';
import type { JobRow } from '../db/schema.js';

/**
 * A kind of job: work on one row (the job's `subject_id`), recorded in `jobs` for clients to poll
 * and delivered by pg-boss with retries, backoff and a lease. `Ctx` is whatever the composition
 * root hands every attempt (the modules' dependencies); the machinery never looks inside it.
 */
export interface JobKind<Ctx = unknown> {
  /** The queue's name and the `kind` clients see on the job. */
  readonly kind: string;
  /** Seconds one attempt may hold the job before another worker may take it; an enqueue may ask for more. */
  lease(config: Config): number;
  /**
   * One attempt. Returning ends the job succeeded, unless `run` recorded a verdict on the row itself
   * (in the transaction of its work, e.g. failed for a reason of the subject's); throwing hands the
   * job back for another attempt after a backoff.
   */
  run(ctx: Ctx, job: JobRow): Promise<void>;
}

/** Work the server does on a schedule, one run at a time across every worker; it has no `jobs` row. */
export interface PeriodicJob<Ctx = unknown> {
  readonly kind: string;
  /** pg-boss cron: minute resolution. */
  cron(config: Config): string;
  run(ctx: Ctx): Promise<unknown>;
}

/**
 * Work a worker process runs continuously beside its jobs (the webhook dispatcher): started with the
 * worker, woken by the notifications its `kind` is named in, stopped with it.
 */
export interface BackgroundTask<Ctx = unknown> {
  readonly kind: string;
  start(ctx: Ctx): { wake(): void; stop(): Promise<void> };
}
