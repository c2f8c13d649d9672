import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Page, keysetPage, newestFirst, pageEnd } from '../../db/keyset.js';
import type { Attributes, DatasetLinkRow } from '../../db/schema.js';

export type LinkWithUpload = DatasetLinkRow & { filename: string; content_type: string | null; size_bytes: string | null };

/** What the API shows of a link's upload: name, type (sniffed before declared), confirmed size. */
const UPLOAD_COLUMNS = [
  'u.name as filename',
  sql<string | null>`coalesce(u.detected_content_type, u.content_type)`.as('content_type'),
  sql<string | null>`case when u.status = 'confirmed' then u.size_bytes::text end`.as('size_bytes'),
] as const;

/** Links with what the API shows of their upload. */
function withUpload(db: Executor) {
  return db.selectFrom('dataset_links as l').innerJoin('uploads as u', 'u.id', 'l.upload_id').selectAll('l').select(UPLOAD_COLUMNS);
}

/** A revision's dataset links, newest first (dataset_links_revision_active_created_idx, dataset_links_revision_created_idx). */
export const DATASETS_KEYSET = newestFirst('dataset_links');

export const datasetRepo = {
  /**
   * The page of links is found first and only its links meet their uploads: a deep page looks up 50
   * uploads, not offset + 50. The count is the revision's counter (migration 0018), in the revision's org.
   */
  async list(db: Executor, revisionId: string, options: { includeInactive: boolean } & Page) {
    let links = db.selectFrom('dataset_links').where('part_revision_id', '=', revisionId);
    if (!options.includeInactive) links = links.where('is_active', '=', true);
    const page = keysetPage(links.selectAll(), DATASETS_KEYSET, options);
    const [rows, total] = await Promise.all([
      db
        .selectFrom(page.as('l'))
        .innerJoin('uploads as u', 'u.id', 'l.upload_id')
        .selectAll('l')
        .select(UPLOAD_COLUMNS)
        .orderBy('l.created_at', 'desc')
        .orderBy('l.id', 'desc')
        .execute(),
      db
        .selectFrom('list_counts')
        .select(sql<string>`coalesce(sum(n), 0)::text`.as('n'))
        .where('org_id', '=', (eb) => eb.selectFrom('part_revisions').select('org_id').where('id', '=', revisionId))
        .where('list', '=', options.includeInactive ? 'dataset_links' : 'dataset_links:active')
        .where('scope', '=', revisionId)
        .executeTakeFirstOrThrow(),
    ]);
    const { rows: shown, nextCursor } = pageEnd(DATASETS_KEYSET, rows, options.limit);
    return { rows: shown as LinkWithUpload[], count: Number(total.n), nextCursor };
  },

  /** The revision's active links, newest first: what supersede and primary decisions are made on. */
  async active(db: Executor, revisionId: string): Promise<LinkWithUpload[]> {
    return withUpload(db)
      .where('l.part_revision_id', '=', revisionId)
      .where('l.is_active', '=', true)
      .orderBy('l.created_at', 'desc')
      .orderBy('l.id', 'desc')
      .execute() as Promise<LinkWithUpload[]>;
  },

  find(db: Executor, revisionId: string, id: string): Promise<LinkWithUpload | undefined> {
    return withUpload(db).where('l.part_revision_id', '=', revisionId).where('l.id', '=', id).executeTakeFirst() as Promise<
      LinkWithUpload | undefined
    >;
  },

  async insert(
    db: Executor,
    row: {
      id: string;
      org_id: string;
      part_revision_id: string;
      upload_id: string;
      role: string;
      is_primary: boolean;
      attributes: Attributes;
    },
  ): Promise<void> {
    await db
      .insertInto('dataset_links')
      .values({ ...row, attributes: JSON.stringify(row.attributes), updated_at: sql`now()` })
      .execute();
  },

  async supersede(db: Executor, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await db
      .updateTable('dataset_links')
      .set({ is_active: false, is_primary: false, superseded_at: sql`now()`, updated_at: sql`now()` })
      .where('id', 'in', ids)
      .execute();
  },

  /** Clears the revision's primary flag; done before another link is flagged so the unique index never sees two. */
  async demote(db: Executor, revisionId: string): Promise<void> {
    await db
      .updateTable('dataset_links')
      .set({ is_primary: false, updated_at: sql`now()` })
      .where('part_revision_id', '=', revisionId)
      .where('is_primary', '=', true)
      .execute();
  },

  async promote(db: Executor, id: string): Promise<void> {
    await db
      .updateTable('dataset_links')
      .set({ is_primary: true, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('dataset_links').where('id', '=', id).execute();
  },

  /** Shares the upload's row lock: a concurrent cancel waits for this link to commit, and sees it. */
  findUploadForShare(db: Executor, orgId: string, id: string) {
    return db
      .selectFrom('uploads')
      .select(['id', 'name', 'status', 'deleted_at'])
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .forShare()
      .executeTakeFirst();
  },

  async renameUpload(db: Executor, id: string, name: string): Promise<void> {
    await db
      .updateTable('uploads')
      .set({ name, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  },

  /** Another upload already shown as `name` by an active link on a revision where this upload is active. */
  nameTakenNextTo(db: Executor, uploadId: string, name: string) {
    return db
      .selectFrom('dataset_links as l')
      .innerJoin('uploads as u', 'u.id', 'l.upload_id')
      .select(['l.id', 'l.part_revision_id'])
      .where('l.is_active', '=', true)
      .where('u.name', '=', name)
      .where('l.upload_id', '!=', uploadId)
      .where('l.part_revision_id', 'in', (eb) =>
        eb.selectFrom('dataset_links').select('part_revision_id').where('upload_id', '=', uploadId).where('is_active', '=', true),
      )
      .executeTakeFirst();
  },
};
