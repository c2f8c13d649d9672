import type { FolderRow } from '../../db/schema.js';

/** A folder as the API shows it, with its path from the root. */
export function folderView(row: FolderRow, path: string) {
  return {
    id: row.id,
    name: row.name,
    parent_id: row.parent_id,
    path,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
