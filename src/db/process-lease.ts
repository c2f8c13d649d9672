import { type RawBuilder, sql } from 'kysely';
import { newId } from '../ids.js';
import type { Db } from './database.js';

/** How often a running process refreshes its lease. */
export const HEARTBEAT_SECONDS = 5;
/**
 * A lease not refreshed for this long (three heartbeats missed) belongs to a process that died or
 * lost its database: what it held may be taken over. Judged on the database's clock, never a node's.
 */
export const LEASE_EXPIRES_SECONDS = 3 * HEARTBEAT_SECONDS;
/** Rows of processes gone this long are removed when another starts: nothing can still name them usefully. */
const FORGET_AFTER_HOURS = 24;

/**
 * This process's liveness in PostgreSQL (table process_leases): a row whose heartbeat stays fresh
 * while the process runs, so the other processes of a cluster can tell work it still does from work
 * it dropped when it died (kill -9, a lost machine). Ended by `stop`, or by not being refreshed.
 */
export class ProcessLease {
  readonly id = newId();
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<unknown> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Takes a lease and keeps it fresh every HEARTBEAT_SECONDS until `stop`. */
  static async start(db: Db, options: { onError(error: unknown): void }): Promise<ProcessLease> {
    const lease = new ProcessLease(db, options.onError);
    await sql`DELETE FROM process_leases WHERE heartbeat_at < now() - make_interval(hours => ${FORGET_AFTER_HOURS})`.execute(db);
    await lease.beat();
    lease.schedule();
    return lease;
  }

  /** True (in SQL) while the lease named by `owner` is fresh; false for an expired or unknown one. */
  static isLive(owner: RawBuilder<unknown>): RawBuilder<boolean> {
    return sql<boolean>`EXISTS (SELECT 1 FROM process_leases l WHERE l.id = ${owner}
      AND l.heartbeat_at > now() - make_interval(secs => ${LEASE_EXPIRES_SECONDS}))`;
  }

  /** Ends the lease at once, so what the process held may be taken over without waiting for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.beating;
    await sql`DELETE FROM process_leases WHERE id = ${this.id}`.execute(this.db).catch(this.onError);
  }

  /** An upsert: a row removed meanwhile (the process stalled past FORGET_AFTER_HOURS) comes back. */
  private beat(): Promise<unknown> {
    const beat = sql`INSERT INTO process_leases (id) VALUES (${this.id})
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`.execute(this.db);
    this.beating = beat.catch(() => {});
    return beat;
  }

  /** One heartbeat after the last has ended: a slow database never stacks them up. */
  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.beat()
        .catch(this.onError)
        .finally(() => {
          if (!this.stopped) this.schedule();
        });
    }, HEARTBEAT_SECONDS * 1000);
    this.timer.unref();
  }
}
