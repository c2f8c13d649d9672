import type { PartRevisionRow, PartRow } from '../../db/schema.js';
import type { LinkWithUpload } from '../datasets/repo.js';

/** Parts, revisions and dataset links as the API shows them, fields in the reference's order. */
export function partView(row: PartRow) {
  return {
    attributes: row.attributes,
    base_uom: row.base_uom,
    classification_id: row.classification_id,
    created_at: row.created_at.toISOString(),
    default_currency: row.default_currency,
    description: row.description,
    id: row.id,
    lead_time_days: row.lead_time_days,
    make_or_buy: row.make_or_buy,
    org_id: row.org_id,
    part_number: row.part_number,
    procurement_type: row.procurement_type,
    updated_at: row.updated_at.toISOString(),
  };
}

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
