import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Page, keysetPage, newestFirst, pageEnd } from '../../db/keyset.js';
import { countedRows } from '../../db/list-counts.js';
import type { Attributes, PartRevisionRow } from '../../db/schema.js';

/** A part's revisions, newest first (part_revisions_part_created_idx). */
export const REVISIONS_KEYSET = newestFirst('part_revisions');

export const revisionRepo = {
  insert(db: Executor, row: Omit<PartRevisionRow, 'created_at' | 'updated_at'>) {
    return db
      .insertInto('part_revisions')
      .values({ ...row, attributes: JSON.stringify(row.attributes), updated_at: sql`now()` })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /**
   * `lock`: hold the revision's row lock for the rest of the transaction. Every change to a revision's
   * dataset links (and the revision's own deletion) takes it first, which serialises them per revision.
   */
  find(db: Executor, orgId: string, partId: string, id: string, options: { lock?: boolean } = {}) {
    const query = db
      .selectFrom('part_revisions')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('part_id', '=', partId)
      .where('id', '=', id);
    return (options.lock ? query.forUpdate() : query).executeTakeFirst();
  },

  /** A parent being named by a new revision: kept from being deleted until the new one is committed. */
  findForKeyShare(db: Executor, orgId: string, partId: string, id: string) {
    return db
      .selectFrom('part_revisions')
      .select('id')
      .where('org_id', '=', orgId)
      .where('part_id', '=', partId)
      .where('id', '=', id)
      .forKeyShare()
      .executeTakeFirst();
  },

  /**
   * The part is the org's: the caller found it so (RevisionService.list). The page names the part
   * alone: with `org_id` beside it the planner multiplied the two columns' shares as if independent,
   * expected a few hundred of a part's 10,000 revisions, and sorted them all rather than walk
   * part_revisions_part_created_idx. The count is the part's counter (migration 0018), in the org.
   */
  async list(db: Executor, orgId: string, partId: string, options: Page) {
    const query = db.selectFrom('part_revisions').selectAll().where('part_id', '=', partId);
    const [rows, count] = await Promise.all([
      keysetPage(query, REVISIONS_KEYSET, options).execute(),
      countedRows(db, orgId, 'part_revisions', partId),
    ]);
    return { ...pageEnd(REVISIONS_KEYSET, rows, options.limit), count };
  },

  /** Top-level merge in one statement: `set` keys replace, `remove` keys go. */
  mergeAttributes(db: Executor, id: string, set: Attributes, remove: string[]) {
    return db
      .updateTable('part_revisions')
      .set({
        attributes: sql`(attributes || ${JSON.stringify(set)}::jsonb) - ${remove}::text[]`,
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  },

  childIds(db: Executor, id: string) {
    return db.selectFrom('part_revisions').select('id').where('parent_revision_id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('part_revisions').where('id', '=', id).execute();
  },
};
