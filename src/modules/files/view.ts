import type { FileRow, FileVersionRow } from '../../db/schema.js';
import type { PendingContent } from './pending.js';

/** A file as the API shows it: the entity of its tip version, or of the content it awaits. */
export function fileView(file: FileRow, tip: FileVersionRow | null) {
  const pending = file.pending_content as PendingContent | null;
  return {
    id: file.id,
    type: 'file' as const,
    cid: file.cid,
    ver: file.ver,
    prev_cid: tip?.prev_cid ?? null,
    status: file.status,
    folder_id: file.folder_id,
    // Before the first content, what was declared stands in for the properties to come.
    properties: tip ? tip.properties : (pending?.properties ?? {}),
    relationships: tip ? tip.relationships : (pending?.relationships ?? []),
    created_at: file.created_at.toISOString(),
    ts: tip ? Number(tip.ts) : null,
    edited_by: tip?.edited_by ?? null,
    note: tip?.note ?? null,
    deleted_at: file.deleted_at?.toISOString() ?? null,
  };
}

export function versionView(row: FileVersionRow) {
  return {
    ver: row.ver,
    cid: row.cid,
    prev_cid: row.prev_cid,
    folder_id: row.folder_id,
    properties: row.properties,
    relationships: row.relationships,
    edited_by: row.edited_by,
    note: row.note,
    ts: Number(row.ts),
  };
}
