import type { PartRevisionRow } from '../../db/schema.js';

/** A revision as the API shows it, fields in the reference's order. */
export function revisionView(row: PartRevisionRow) {
  return {
    attributes: row.attributes,
    change_request_id: row.change_request_id,
    created_at: row.created_at.toISOString(),
    id: row.id,
    parent_revision_id: row.parent_revision_id,
    part_id: row.part_id,
    revision_code: row.revision_code,
    updated_at: row.updated_at.toISOString(),
  };
}
