import { sql } from 'kysely';
import type pg from 'pg';
import PgBoss from 'pg-boss';
// Its statement texts, to recognise the two it runs without awaiting (settleCompletionsQuietly).
import { completeJobs, failJobsById } from 'pg-boss/src/plans.js';
import type { Config } from '../config.js';
import { type Db, type Tx, executeRaw } from '../db/database.js';
import type { JobRow } from '../db/schema.js';
import { newId } from '../ids.js';
import type { JobKind, PeriodicJob } from './job-kind.js';
import { jobsRepo } from './jobs-repo.js';
import { WAKE_CHANNEL } from './wake-listener.js';

/** Jobs that exhausted their attempts land here, so their row can be closed even when a worker died. */
export const DEAD_LETTER_QUEUE = 'dead-letter';

export interface JobMessage {
  jobId: string;
}

/** What a job needs to be enqueued: the org it belongs to and the row it works on. */
export interface NewJob {
  orgId: string;
  subjectId: string;
  /** More than the kind's lease, for an attempt known to take longer (a large file to read). */
  leaseSeconds?: number;
}

/** A database transaction that may also enqueue jobs; they are delivered when it commits, and only then. */
export interface JobTransaction {
  readonly db: Tx;
  enqueue(kind: JobKind<any>, job: NewJob): Promise<JobRow>;
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
    private readonly config: Config,
    /** For the wake listener of worker processes. */
    readonly connectionString: string,
  ) {}

  static async start(connectionString: string, config: Config, onError: (e: Error) => void): Promise<JobQueue> {
    const options: PgBoss.ConstructorOptions & Pick<pg.PoolConfig, 'connectionTimeoutMillis' | 'query_timeout'> = {
      connectionString,
      max: 4,
      application_name: 'stowage-queue',
      // pg-boss hands these to pg.Pool: without them a worker parked on a database that stopped
      // answering never returns, and its stop() waits for it forever.
      connectionTimeoutMillis: 10_000,
      query_timeout: 60_000,
      maintenanceIntervalSeconds: config.jobs.maintenanceIntervalSeconds,
      monitorStateIntervalSeconds: Math.max(config.jobs.maintenanceIntervalSeconds, 10),
    };
    const boss = new PgBoss(options);
    boss.on('error', onError);
    settleCompletionsQuietly(boss, onError);
    await boss.start();
    await boss.createQueue(DEAD_LETTER_QUEUE);
    return new JobQueue(boss, config, connectionString);
  }

  /** Creates the queues of these kinds (idempotent): pg-boss delivers only to queues that exist. */
  async prepare(kinds: readonly JobKind<any>[], periodic: readonly PeriodicJob<any>[]): Promise<void> {
    for (const { kind } of kinds) await this.boss.createQueue(kind);
    for (const { kind } of periodic) {
      await this.boss.createQueue(kind, { name: kind, policy: 'singleton', retryLimit: 0, expireInSeconds: 3600 });
    }
  }

  /**
   * Runs `work` in one transaction of `db` in which jobs may be enqueued; after the commit, this
   * process's workers for the kinds enqueued are woken (the commit's notification wakes the others).
   */
  async transaction<T>(db: Db, work: (t: JobTransaction) => Promise<T>): Promise<T> {
    const enqueued = new Set<string>();
    const result = await db.transaction().execute((tx) =>
      work({
        db: tx,
        enqueue: (kind, job) => {
          enqueued.add(kind.kind);
          return this.enqueueIn(tx, kind, job);
        },
      }),
    );
    for (const kind of enqueued) this.wake(kind);
    return result;
  }

  /** The job row and its delivery, inside `tx`: the job exists exactly when the rows it works on do. */
  private async enqueueIn(tx: Tx, kind: JobKind<any>, job: NewJob): Promise<JobRow> {
    const row = await jobsRepo.insert(tx, { id: newId(), org_id: job.orgId, kind: kind.kind, subject_id: job.subjectId });
    const lease = Math.min(MAX_LEASE_SECONDS, Math.max(kind.lease(this.config), job.leaseSeconds ?? 0));
    await this.boss.send(kind.kind, { jobId: row.id } satisfies JobMessage, {
      db: { executeSql: (text, values) => executeRaw(tx, text, values) },
      retryLimit: this.config.jobs.retryLimit,
      retryDelay: this.config.jobs.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: lease,
      deadLetter: DEAD_LETTER_QUEUE,
    });
    // Delivered at commit, and only then, to the workers of every process (see wake-listener).
    await sql`SELECT pg_notify(${WAKE_CHANNEL}, ${kind.kind})`.execute(tx);
    return row;
  }

  /** Workers of this process, so a job enqueued here can be picked up at once rather than at the next poll. */
  private readonly localWorkers = new Map<string, string[]>();

  registerLocalWorker(kind: string, workerId: string): void {
    this.localWorkers.set(kind, [...(this.localWorkers.get(kind) ?? []), workerId]);
  }

  /** Background tasks of this process, woken like workers when their kind is notified. */
  private readonly localWakers = new Map<string, (() => void)[]>();

  registerLocalWaker(kind: string, wake: () => void): void {
    this.localWakers.set(kind, [...(this.localWakers.get(kind) ?? []), wake]);
  }

  /**
   * Only after the enqueuing transaction committed (before, a woken worker would find nothing).
   * Saves this process's workers the round trip of the notification the commit sends to all processes.
   */
  wake(kind: string): void {
    for (const id of this.localWorkers.get(kind) ?? []) this.boss.notifyWorker(id);
    for (const wake of this.localWakers.get(kind) ?? []) wake();
  }

  /**
   * Stops fetching and waits up to `timeoutMs` (at least the 1 s pg-boss allows) for jobs this
   * process is running; those still running then are failed back to the queue, to be retried.
   */
  async stop(options: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    await this.boss.stop({ graceful: options.graceful ?? true, wait: true, timeout: Math.max(1000, options.timeoutMs ?? 10_000) });
  }
}

/**
 * pg-boss 10 marks a job it handed to a worker completed or failed without awaiting the query
 * (manager.js, onFetch): a database connection lost at that moment becomes an unhandled rejection,
 * which ends the process. Those two statements are made safe here: their failure goes to `onError`,
 * and the job, still active in pg-boss, expires and is delivered again, where its `jobs` row (already
 * finished) turns the duplicate away. No other statement of pg-boss is touched.
 */
function settleCompletionsQuietly(boss: PgBoss, onError: (e: Error) => void): void {
  const schema = 'pgboss';
  const completions = new Set([completeJobs(schema), failJobsById(schema)]);
  const db = boss.getDb() as unknown as { executeSql(text: string, values?: unknown[]): Promise<unknown> };
  const execute = db.executeSql.bind(db);
  db.executeSql = async (text, values) => {
    if (!completions.has(text)) return execute(text, values);
    try {
      return await execute(text, values);
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
      return { rows: [{ count: '0' }] };
    }
  };
}
