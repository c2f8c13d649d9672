import { type Updateable, sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Page, keysetPage, newestFirst, pageEnd } from '../../db/keyset.js';
import { SEARCH_COUNT_CAP, cappedCount, countedRows } from '../../db/list-counts.js';
import type { PartTable } from '../../db/schema.js';

type PartChanges = Omit<Updateable<PartTable>, 'id' | 'org_id' | 'part_number' | 'created_at' | 'updated_at'>;

/** `%` and `_` in a search term are literal characters, not patterns. */
const likeTerm = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The parts list's order: newest first (parts_org_created_idx, parts_org_classification_created_idx). */
export const PARTS_KEYSET = newestFirst('parts');

export const partRepo = {
  insert(db: Executor, row: PartChanges & { id: string; org_id: string; part_number: string }) {
    return db
      .insertInto('parts')
      .values({ ...row, updated_at: sql`now()` })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /** Holds the part against a concurrent delete until the transaction ends, so rows added under it stay valid. */
  findForKeyShare(db: Executor, orgId: string, id: string) {
    return db.selectFrom('parts').selectAll().where('org_id', '=', orgId).where('id', '=', id).forKeyShare().executeTakeFirst();
  },

  /**
   * The count comes from the counters of migration 0018, except under `q`: no counter knows a search's
   * size, so its matches are counted, found through the trigram index rather than a read of the org,
   * and at most SEARCH_COUNT_CAP + 1 of them.
   */
  async list(db: Executor, orgId: string, options: { q?: string; classificationId?: string } & Page) {
    let base = db.selectFrom('parts').where('org_id', '=', orgId);
    if (options.q) {
      const term = likeTerm(options.q);
      base = base.where((eb) => eb.or([eb('part_number', 'ilike', term), eb('description', 'ilike', term)]));
    }
    if (options.classificationId) base = base.where('classification_id', '=', options.classificationId);
    const [rows, count] = await Promise.all([
      keysetPage(base.selectAll(), PARTS_KEYSET, options).execute(),
      options.q
        ? db
            .selectFrom(
              base
                .select('id')
                .limit(SEARCH_COUNT_CAP + 1)
                .as('matches'),
            )
            .select(sql<number>`count(*)::int`.as('n'))
            .executeTakeFirstOrThrow()
            .then(({ n }) => cappedCount(n))
        : (options.classificationId
            ? countedRows(db, orgId, 'parts:classification', options.classificationId)
            : countedRows(db, orgId, 'parts')
          ).then((n) => ({ n, capped: false })),
    ]);
    return { ...pageEnd(PARTS_KEYSET, rows, options.limit), count: count.n, countCapped: count.capped };
  },

  update(db: Executor, orgId: string, id: string, changes: PartChanges) {
    return db
      .updateTable('parts')
      .set({ ...changes, updated_at: sql`now()` })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  },

  /** Revisions and their dataset links go with the part (ON DELETE CASCADE); uploads stay. */
  async delete(db: Executor, orgId: string, id: string): Promise<boolean> {
    const result = await db.deleteFrom('parts').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  },
};
