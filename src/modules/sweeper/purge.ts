import type { BlobStore } from '../../blobs/blob-store.js';
import type { Db } from '../../db/database.js';

export type PurgeOutcome = 'purged' | 'in_use' | 'gone';

/**
 * Ends a trashed upload for good: its row stays (jobs and history name it) but no longer holds
 * bytes, and the bytes themselves go unless another row still uses them — the one reference rule:
 * another upload sharing the blob (deduplication), any version of a file not yet purged, or a
 * dataset link. The row is marked before the blob is deleted: a crash in between leaves an orphan
 * blob (which the sweeper removes), never a row pointing at nothing.
 */
export async function purgeUpload(db: Db, blobs: BlobStore, uploadId: string): Promise<PurgeOutcome> {
  const freed = await db.transaction().execute(async (tx) => {
    const upload = await tx.selectFrom('uploads').selectAll().where('id', '=', uploadId).forUpdate().executeTakeFirst();
    if (!upload || upload.blob_purged_at) return { outcome: 'gone' as const, deleteKeys: [] };
    const used = await tx
      .selectFrom('file_versions')
      .select('file_id')
      .where('upload_id', '=', uploadId)
      .unionAll(tx.selectFrom('dataset_links').select('upload_id as file_id').where('upload_id', '=', uploadId))
      .limit(1)
      .executeTakeFirst();
    if (used) return { outcome: 'in_use' as const, deleteKeys: [] };
    await tx.updateTable('uploads').set({ blob_purged_at: new Date() }).where('id', '=', uploadId).execute();
    // What was read from the bytes goes with them: their text must not stay searchable.
    const reading = await tx.deleteFrom('readings').where('upload_id', '=', uploadId).returning('thumbnail_key').executeTakeFirst();
    const shared = await tx
      .selectFrom('uploads')
      .select('id')
      .where('blob_key', '=', upload.blob_key)
      .where('id', '!=', uploadId)
      .where('blob_purged_at', 'is', null)
      .limit(1)
      .executeTakeFirst();
    return { outcome: 'purged' as const, deleteKeys: [shared ? null : upload.blob_key, reading?.thumbnail_key ?? null] };
  });
  // After the commit: a failed delete leaves a blob no row knows, which the orphan sweep takes.
  for (const key of freed.deleteKeys) if (key) await blobs.delete(key).catch(() => {});
  return freed.outcome;
}

/**
 * Ends a trashed file for good: the file and its versions go, and the uploads it was made from (its
 * content uploads, the upload that made it from a folder) are purged as far as the reference rule
 * lets them.
 */
export async function purgeFile(db: Db, blobs: BlobStore, fileId: string): Promise<PurgeOutcome> {
  const made = await db.transaction().execute(async (tx) => {
    const file = await tx.selectFrom('files').select(['id', 'deleted_at']).where('id', '=', fileId).forUpdate().executeTakeFirst();
    if (!file) return null;
    // Uploads made for this file go with it; an upload the client brought separately stays its own.
    const mine = (await tx.selectFrom('uploads').select('id').where('file_id', '=', fileId).execute()).map((u) => u.id);
    await tx.deleteFrom('files').where('id', '=', fileId).execute();
    if (mine.length) {
      await tx
        .updateTable('uploads')
        .set({ deleted_at: file.deleted_at ?? new Date() })
        .where('id', 'in', mine)
        .where('deleted_at', 'is', null)
        .execute();
    }
    return { uploadIds: mine };
  });
  if (!made) return 'gone';
  for (const id of made.uploadIds) await purgeUpload(db, blobs, id);
  return 'purged';
}
