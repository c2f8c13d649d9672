import { sql } from 'kysely';
import type { Executor } from './database.js';

/** The scope of an org-wide counter (migration 0012): a folder's counters use the folder's id. */
export const WHOLE_ORG = '00000000-0000-0000-0000-000000000000';

/**
 * A search can match any share of an org and no counter knows how many: its count stops here, so a
 * broad term costs at most this many rows (and one more, to tell "exactly the cap" from "more"). An
 * answer over the cap says `count_capped`.
 */
export const SEARCH_COUNT_CAP = 1_000;

/** A search's count from reading at most SEARCH_COUNT_CAP + 1 matches: past the cap, the cap and `capped`. */
export const cappedCount = (n: number) => (n > SEARCH_COUNT_CAP ? { n: SEARCH_COUNT_CAP, capped: true } : { n, capped: false });

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
