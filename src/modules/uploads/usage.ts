import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';

/** Any two-int4 advisory lock of this class belongs to the storage quota of one org (hashtext of its id). */
const QUOTA_LOCK = 7_240_520;

/** The bytes an org's uploads weigh against its quota. */
export interface UploadUsage {
  /** Confirmed uploads whose bytes are not purged (the trash included). */
  confirmedBytes: number;
  /** The declared sizes of pending uploads. */
  pendingBytes: number;
}

export const uploadUsage = {
  /** The counters the triggers of migration 0014 keep: the sum of an org's shards, never a scan of its uploads. */
  async read(db: Executor, orgId: string): Promise<UploadUsage> {
    const row = await db
      .selectFrom('upload_usage')
      .select([
        sql<string>`coalesce(sum(confirmed_bytes), 0)::text`.as('confirmed'),
        sql<string>`coalesce(sum(pending_bytes), 0)::text`.as('pending'),
      ])
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return { confirmedBytes: Number(row.confirmed), pendingBytes: Number(row.pending) };
  },

  /**
   * Admissions against the org's quota take turns until their transaction ends: two uploads that each
   * fit cannot both be let in when together they do not. Orgs without a quota never take it.
   */
  async lock(db: Executor, orgId: string): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(${QUOTA_LOCK}, hashtext(${orgId}))`.execute(db);
  },
};
