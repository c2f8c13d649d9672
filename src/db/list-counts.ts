import { sql } from 'kysely';
import type { Executor } from './database.js';

/** The scope of an org-wide counter (migration 0012): a folder's counters use the folder's id. */
export const WHOLE_ORG = '00000000-0000-0000-0000-000000000000';

/**
 * A search can match any share of an org and no counter knows how many: its count stops here, so a
 * broad term costs at most this many rows. An answer at the cap says `count_capped`.
 */
export const SEARCH_COUNT_CAP = 1_000;

/** The exact size of a list kept by the counting triggers: the sum of a few shards, never a scan. */
export async function countedRows(db: Executor, orgId: string, list: string, scope: string | null = null): Promise<number> {
  const row = await db
    .selectFrom('list_counts')
    .select(sql<string>`coalesce(sum(n), 0)::text`.as('n'))
    .where('org_id', '=', orgId)
    .where('list', '=', list)
    .where('scope', '=', scope ?? WHOLE_ORG)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
