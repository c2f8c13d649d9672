import { sql } from 'kysely';
import type pg from 'pg';
import PgBoss from 'pg-boss';
import type { Config } from '../config.js';
import { type Executor, executeRaw } from '../db/database.js';
import { newId } from '../ids.js';
import { jobsRepo } from './jobs-repo.js';
import { WAKE_CHANNEL } from './wake-listener.js';

export type JobKind = 'confirm' | 'preview';
export const JOB_KINDS: readonly JobKind[] = ['confirm', 'preview'];
/** Jobs that exhausted their attempts land here, so their row can be closed even when a worker died. */
export const DEAD_LETTER_QUEUE = 'dead-letter';
/** The periodic sweep: one run at a time across all workers. */
export const SWEEP_QUEUE = 'sweep';

export interface JobMessage {
  jobId: string;
}

// pg-boss refuses leases of 24 h or more.
const MAX_LEASE_SECONDS = 23 * 3600;

/**
 * Our `jobs` rows (what clients poll, scoped to an org) backed by pg-boss for delivery, retries with
 * backoff and leases. Both are written in the caller's transaction: the job exists exactly when the
 * rows it works on do.
 */
export class JobQueue {
  private constructor(
    readonly boss: PgBoss,
    private readonly config: Config['jobs'],
    /** For the wake listener of worker processes. */
    readonly connectionString: string,
  ) {}

  static async start(connectionString: string, config: Config['jobs'], onError: (e: Error) => void): Promise<JobQueue> {
    const options: PgBoss.ConstructorOptions & Pick<pg.PoolConfig, 'connectionTimeoutMillis' | 'query_timeout'> = {
      connectionString,
      max: 4,
      application_name: 'stowage-queue',
      // pg-boss hands these to pg.Pool: without them a worker parked on a database that stopped
      // answering never returns, and its stop() waits for it forever.
      connectionTimeoutMillis: 10_000,
      query_timeout: 60_000,
      maintenanceIntervalSeconds: config.maintenanceIntervalSeconds,
      monitorStateIntervalSeconds: Math.max(config.maintenanceIntervalSeconds, 10),
    };
    const boss = new PgBoss(options);
    boss.on('error', onError);
    await boss.start();
    await boss.createQueue(DEAD_LETTER_QUEUE);
    await boss.createQueue(SWEEP_QUEUE, { name: SWEEP_QUEUE, policy: 'singleton', retryLimit: 0, expireInSeconds: 3600 });
    for (const kind of JOB_KINDS) await boss.createQueue(kind);
    return new JobQueue(boss, config, connectionString);
  }

  /** Creates the job row and its delivery inside `tx`. `leaseSeconds` covers one attempt's worst case. */
  async enqueue(tx: Executor, job: { orgId: string; kind: JobKind; subjectId: string; leaseSeconds?: number }) {
    const row = await jobsRepo.insert(tx, { id: newId(), org_id: job.orgId, kind: job.kind, subject_id: job.subjectId });
    const lease = Math.min(MAX_LEASE_SECONDS, Math.max(this.config.leaseSeconds, job.leaseSeconds ?? 0));
    await this.boss.send(job.kind, { jobId: row.id } satisfies JobMessage, {
      db: { executeSql: (text, values) => executeRaw(tx, text, values) },
      retryLimit: this.config.retryLimit,
      retryDelay: this.config.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: lease,
      deadLetter: DEAD_LETTER_QUEUE,
    });
    // Delivered at commit, and only then, to the workers of every process (see wake-listener).
    await sql`SELECT pg_notify(${WAKE_CHANNEL}, ${job.kind})`.execute(tx);
    return row;
  }

  /** Workers of this process, so a job enqueued here can be picked up at once rather than at the next poll. */
  private readonly localWorkers = new Map<string, string[]>();

  registerLocalWorker(kind: string, workerId: string): void {
    this.localWorkers.set(kind, [...(this.localWorkers.get(kind) ?? []), workerId]);
  }

  /**
   * Call after the enqueuing transaction committed; before, a woken worker would find nothing. Saves
   * this process's workers the round trip of the notification the commit sends to all processes.
   */
  wake(kind: string): void {
    for (const id of this.localWorkers.get(kind) ?? []) this.boss.notifyWorker(id);
  }

  /**
   * Stops fetching and waits up to `timeoutMs` (at least the 1 s pg-boss allows) for jobs this
   * process is running; those still running then are failed back to the queue, to be retried.
   */
  async stop(options: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    await this.boss.stop({ graceful: options.graceful ?? true, wait: true, timeout: Math.max(1000, options.timeoutMs ?? 10_000) });
  }
}
