import { type Static, Type } from '@sinclair/typebox';
import { SEARCH_COUNT_CAP } from '../../db/list-counts.js';
import { Pagination, listOf, nullable } from '../../http/schemas.js';

const nullableEnum = <V extends string>(values: readonly V[], description: string) =>
  Type.Unsafe<V | null>({ type: ['string', 'null'], enum: [...values, null], description });

export const Attributes = (description: string) =>
  Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description });

export const Message = Type.Object({
  message: Type.String({ description: 'Human-readable confirmation that the resource was deleted.' }),
});

export const PartParams = Type.Object({ part_id: Type.String({ description: 'Identifier of the part.' }) });

export const MAKE_OR_BUY = ['make', 'buy'] as const;
export const PROCUREMENT_TYPES = ['in_house', 'external', 'both'] as const;

const fields = {
  attributes: Attributes('Free-form key/value metadata for the part.'),
  base_uom: Type.String({
    minLength: 1,
    maxLength: 16,
    pattern: '^[A-Za-z0-9_./-]+$',
    description: 'Base unit of measure for the part (ISO unit code, e.g. EA, KG, M).',
    examples: ['EA'],
  }),
  classification_id: nullable(Type.String({ format: 'uuid' }), {
    description: 'ID of the classification category this part belongs to, if any.',
  }),
  default_currency: nullable(Type.String({ pattern: '^[A-Z]{3}$' }), {
    description: "Default currency for the part's pricing (ISO 4217 code, e.g. EUR, USD).",
    examples: ['EUR'],
  }),
  description: nullable(Type.String({ maxLength: 10_000 }), { description: 'Human-readable description of the part.' }),
  lead_time_days: nullable(Type.Integer({ minimum: 0, maximum: 2_147_483_647 }), {
    description: 'Expected lead time to obtain the part, in days.',
  }),
  make_or_buy: nullableEnum(MAKE_OR_BUY, 'Whether the part is manufactured in-house or purchased.'),
  procurement_type: nullableEnum(PROCUREMENT_TYPES, 'How the part is sourced (e.g. in-house production or external supplier).'),
};

const PART_NUMBER = Type.String({
  minLength: 1,
  maxLength: 255,
  description: 'Stable identifier (≈ SAP MATNR). Unique per org.',
  examples: ['BRACKET-001'],
});

export const Part = Type.Object(
  {
    ...fields,
    created_at: Type.String({ format: 'date-time', description: 'Timestamp when the part was created (UTC, ISO 8601).' }),
    id: Type.String({ format: 'uuid', description: 'Unique identifier of the part.' }),
    org_id: Type.String({ format: 'uuid', description: 'ID of the organization that owns the part.' }),
    part_number: PART_NUMBER,
    updated_at: Type.String({ format: 'date-time', description: 'Timestamp when the part was last updated (UTC, ISO 8601).' }),
  },
  { $id: 'PartPublic', title: 'PartPublic' },
);

/** Every field a part's owner may set, each optional. */
const settable = {
  attributes: Type.Optional(fields.attributes),
  base_uom: Type.Optional(fields.base_uom),
  classification_id: Type.Optional(fields.classification_id),
  default_currency: Type.Optional(fields.default_currency),
  description: Type.Optional(fields.description),
  lead_time_days: Type.Optional(fields.lead_time_days),
  make_or_buy: Type.Optional(fields.make_or_buy),
  procurement_type: Type.Optional(fields.procurement_type),
};

export const PartCreate = Type.Object({ ...settable, part_number: PART_NUMBER }, { additionalProperties: false });
export type PartCreate = Static<typeof PartCreate>;

/** The reference's update body: every create field but part_number, which stays as created. */
export const PartUpdate = Type.Object(settable, { additionalProperties: false });
export type PartUpdate = Static<typeof PartUpdate>;

export const PartListQuery = Type.Composite([
  Type.Object({
    q: Type.Optional(Type.String({ maxLength: 255, description: 'Substring match on part_number and description, case-insensitive.' })),
    classification_id: Type.Optional(Type.String({ format: 'uuid', description: 'Identifier of the classification.' })),
  }),
  Pagination,
]);

export const PartList = Type.Composite([
  listOf(Type.Ref('PartPublic')),
  Type.Object({
    count_capped: Type.Optional(
      Type.Boolean({
        description: `Present (true) when a \`q\` search matched more than ${SEARCH_COUNT_CAP.toLocaleString('en')} parts: \`count\` stopped at ${SEARCH_COUNT_CAP.toLocaleString('en')}.`,
      }),
    ),
  }),
]);
