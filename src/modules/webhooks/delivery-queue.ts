import { sql } from 'kysely';
import type { Db } from '../../db/database.js';

/** A delivery claimed for one attempt, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  webhook_id: string;
  event_id: string;
  /** This attempt's number, 1 for the first. */
  attempts: number;
  type: string;
  data: Record<string, unknown>;
  event_at: Date;
  url: string;
  enabled: boolean;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
}

/** An attempt's result, as recorded. */
export interface AttemptRecord {
  id: string;
  /** The attempt it is the result of: a delivery requeued meanwhile (redeliver) is not overwritten. */
  attempts: number;
  status: 'succeeded' | 'pending' | 'failed';
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
}

/**
 * The deliveries table is the queue: a claim takes due rows no other sender holds (SKIP LOCKED) and
 * pushes them one lease ahead, so a delivery whose sender dies is due again when the lease ends —
 * which is also why the lease must outlast the request timeout.
 */
export const deliveryQueue = {
  async claim(db: Db, limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
    const { rows } = await sql<ClaimedDelivery>`
      WITH due AS (
        SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE webhook_deliveries d
        SET next_attempt_at = now() + make_interval(secs => ${leaseSeconds}), attempts = d.attempts + 1,
            last_attempt_at = now(), updated_at = now()
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.webhook_id, d.event_id, d.attempts
      )
      SELECT c.id, c.webhook_id, c.event_id, c.attempts, e.type, e.data, e.created_at AS event_at,
             w.url, w.enabled, w.secret, w.previous_secret, w.previous_secret_expires_at
      FROM claimed c
      JOIN webhook_events e ON e.id = c.event_id
      JOIN webhooks w ON w.id = c.webhook_id`.execute(db);
    return rows;
  },

  /** Many attempts' results in one statement. */
  async record(db: Db, results: readonly AttemptRecord[]): Promise<void> {
    if (!results.length) return;
    await sql`
      UPDATE webhook_deliveries d
      SET status = r.status, next_attempt_at = coalesce(r.next_attempt_at, d.next_attempt_at),
          last_status_code = r.last_status_code, last_error = r.last_error, updated_at = now()
      FROM jsonb_to_recordset(${JSON.stringify(results)}::jsonb)
        AS r(id uuid, attempts integer, status text, next_attempt_at timestamptz, last_status_code integer, last_error text)
      WHERE d.id = r.id AND d.attempts = r.attempts AND d.status = 'pending'`.execute(db);
  },
};
