import type { JobTransaction } from '../../jobs/queue.js';
import { newId } from '../../ids.js';
import { contentProperties, declaredProperties } from './properties.js';
import { filesRepo } from './repo.js';
import { appendVersion, movesIn } from './versions.js';

/**
 * Uploads that named a folder become files as they are confirmed, in the same transaction: version
 * 1 shares the upload's bytes, edited by the key that made the upload. Each upload makes one file.
 */
export async function filesFromConfirmedUploads(t: JobTransaction, confirmed: readonly { id: string }[]): Promise<void> {
  const uploads = await t.db
    .selectFrom('uploads')
    .leftJoin('api_keys', 'api_keys.id', 'uploads.created_by_key_id')
    .selectAll('uploads')
    .select('api_keys.label as key_label')
    .where(
      'uploads.id',
      'in',
      confirmed.map((u) => u.id),
    )
    .where('uploads.folder_id', 'is not', null)
    .where('uploads.file_id', 'is', null)
    .execute();
  for (const { key_label: keyLabel, ...upload } of uploads) {
    const filename = upload.name;
    const contentType = upload.content_type ?? upload.detected_content_type ?? 'application/octet-stream';
    const file = await filesRepo.insert(t.db, {
      id: newId(),
      org_id: upload.org_id,
      folder_id: upload.folder_id,
      status: 'pending',
      filename,
      label: filename,
      created_by_key_id: upload.created_by_key_id,
      updated_at: new Date(),
    });
    const properties = declaredProperties({}, { filename, content_type: contentType, size: Number(upload.size_bytes), label: filename });
    await appendVersion(
      { db: t.db, move: movesIn(t.db) },
      { user_id: upload.created_by_key_id, user_label: keyLabel, method: 'api' },
      file,
      null,
      {
        properties: contentProperties(properties, upload),
        relationships: [],
        note: null,
        folder_id: upload.folder_id,
        upload_id: upload.id,
      },
    );
    await t.db.updateTable('uploads').set({ file_id: file.id }).where('id', '=', upload.id).execute();
  }
}
