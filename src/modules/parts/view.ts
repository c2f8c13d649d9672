import type { PartRow } from '../../db/schema.js';

/** A part as the API shows it, fields in the reference's order. */
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
