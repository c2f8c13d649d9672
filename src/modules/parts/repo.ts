import { type Updateable, sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { countedRows } from '../../db/list-counts.js';
import type { PartTable } from '../../db/schema.js';

type PartChanges = Omit<Updateable<PartTable>, 'id' | 'org_id' | 'part_number' | 'created_at' | 'updated_at'>;

/** `%` and `_` in a search term are literal characters, not patterns. */
const likeTerm = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

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
   * size, so its matches are counted, found through the trigram index rather than a read of the org.
   */
  async list(db: Executor, orgId: string, options: { q?: string; classificationId?: string; limit: number; offset: number }) {
    let base = db.selectFrom('parts').where('org_id', '=', orgId);
    if (options.q) {
      const term = likeTerm(options.q);
      base = base.where((eb) => eb.or([eb('part_number', 'ilike', term), eb('description', 'ilike', term)]));
    }
    if (options.classificationId) base = base.where('classification_id', '=', options.classificationId);
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit).offset(options.offset).execute(),
      options.q
        ? base
            .select(sql<number>`count(*)::int`.as('n'))
            .executeTakeFirstOrThrow()
            .then(({ n }) => n)
        : options.classificationId
          ? countedRows(db, orgId, 'parts:classification', options.classificationId)
          : countedRows(db, orgId, 'parts'),
    ]);
    return { rows, count };
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
