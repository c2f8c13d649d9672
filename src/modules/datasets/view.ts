import type { LinkWithUpload } from './repo.js';

/** A dataset link as the API shows it, fields in the reference's order. */
export function linkView(row: LinkWithUpload) {
  return {
    attributes: row.attributes,
    content_type: row.content_type,
    created_at: row.created_at.toISOString(),
    data_source_id: row.upload_id,
    filename: row.filename,
    id: row.id,
    is_active: row.is_active,
    is_primary: row.is_primary,
    part_revision_id: row.part_revision_id,
    role: row.role,
    size_bytes: row.size_bytes === null ? null : Number(row.size_bytes),
  };
}
