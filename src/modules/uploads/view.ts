import type { UploadRow } from '../../db/schema.js';

/** An upload as the API shows it (reference fields first, then Stowage's additions). */
export function uploadView(row: UploadRow) {
  return {
    id: row.id,
    name: row.name,
    content_type: row.content_type,
    sha256: row.status === 'confirmed' ? row.sha256 : null,
    size_bytes: row.status === 'confirmed' && row.size_bytes !== null ? Number(row.size_bytes) : null,
    status: row.status,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    confirmed_at: row.confirmed_at?.toISOString() ?? null,
    failure_reason: row.failure_reason,
    detected_content_type: row.detected_content_type,
    deduplicated: row.deduplicated,
    folder_id: row.folder_id,
    file_id: row.file_id,
    deleted_at: row.deleted_at?.toISOString() ?? null,
  };
}

export type UploadView = ReturnType<typeof uploadView>;
