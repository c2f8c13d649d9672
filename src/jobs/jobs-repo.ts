import { sql } from 'kysely';
import type { Executor } from '../db/database.js';
import type { JobRow } from '../db/schema.js';

export const jobsRepo = {
  insert(db: Executor, row: { id: string; org_id: string; kind: string; subject_id: string }) {
    return db.insertInto('jobs').values(row).returningAll().executeTakeFirstOrThrow();
  },

  /** Jobs whose work was done in the request itself (deduplication, streamed uploads): born succeeded. */
  async insertSucceeded(db: Executor, rows: { id: string; org_id: string; kind: string; subject_id: string }[]): Promise<void> {
    if (!rows.length) return;
    await db
      .insertInto('jobs')
      .values(rows.map((row) => ({ ...row, status: 'succeeded' as const, attempts: 1, started_at: sql`now()`, finished_at: sql`now()` })))
      .execute();
  },

  find(db: Executor, id: string) {
    return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** Starts an attempt; undefined when the job already ended (a duplicate delivery). */
  startAttempt(db: Executor, id: string) {
    return db
      .updateTable('jobs')
      .set({ status: 'running', attempts: sql`attempts + 1`, started_at: sql`now()`, error: null })
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'running'])
      .returningAll()
      .executeTakeFirst();
  },

  finish(db: Executor, id: string, outcome: { status: 'succeeded' | 'failed'; error?: string | null }) {
    return db
      .updateTable('jobs')
      .set({ status: outcome.status, error: outcome.error ?? null, finished_at: sql`now()` })
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'running'])
      .execute();
  },

  /** An attempt failed and another will follow. */
  requeue(db: Executor, id: string, error: string) {
    return db.updateTable('jobs').set({ status: 'queued', error }).where('id', '=', id).where('status', '=', 'running').execute();
  },
};

export function jobView(row: JobRow) {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    attempts: row.attempts,
    error: row.error,
    created_at: row.created_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}
