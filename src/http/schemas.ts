import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { type Keyset, MAX_CURSOR_LENGTH, type Page, decodeCursor } from '../db/keyset.js';
import { validationError } from '../errors.js';
export { ErrorEnvelope } from '../errors.js';
export type { Page } from '../db/keyset.js';

/** Schemas shared by every module's routes. */
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const Sha256Hex = Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'Hex-encoded SHA-256.' });

export const DEFAULT_LIMIT = 50;
const MAX_OFFSET = 2_147_483_647;

/** Optional in the documents, as the references have them; ajv's useDefaults fills both in before a handler runs. */
export const Pagination = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: DEFAULT_LIMIT, description: 'Page size (1–200).' })),
  // Bounded so a huge offset is a 422 here rather than a PostgreSQL bigint overflow (500) later.
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0, description: 'Rows to skip.' })),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      pattern: '^[A-Za-z0-9_-]+$',
      description:
        'The `next_cursor` of the page before: the page after it, at a cost that does not grow with depth. ' +
        'Not with a non-zero `offset`; pass the same filters as for the page before (a cursor does not carry them).',
    }),
  ),
});

/** The page a list query asked for, defaults applied (for handlers typed before ajv's defaults), its cursor checked against the list. */
export function pageOf(query: { limit?: number; offset?: number; cursor?: string }, keyset: Keyset): Page {
  const page = { limit: query.limit ?? DEFAULT_LIMIT, offset: query.offset ?? 0 };
  if (query.cursor === undefined) return { ...page, after: null };
  if (page.offset !== 0) throw validationError([{ path: 'querystring.cursor', message: 'a cursor continues a list: not with an offset' }]);
  return { ...page, after: decodeCursor(keyset, query.cursor) };
}

export const NextCursor = nullable(Type.String(), {
  description: 'Pass as `cursor` for the page after this one (whether this page came by offset or by cursor); null on the last page.',
});

export function listOf<T extends TSchema>(item: T) {
  return Type.Object({
    count: Type.Integer({ description: 'Total matching rows, ignoring limit/offset/cursor.' }),
    data: Type.Array(item),
    next_cursor: NextCursor,
  });
}

/**
 * `type: [T, 'null']` rather than a union: where ajv coerces types (query strings), it coerces inside
 * the first branch of an anyOf, turning `null` into `""` or `0` (or `0` into `null` with null first).
 */
export function nullable<T extends TSchema>(schema: T, options: Record<string, unknown> = {}) {
  // Object.entries leaves TypeBox's symbol keys behind: the result is plain JSON Schema.
  const plain = Object.fromEntries(Object.entries(schema)) as { type: string };
  return Type.Unsafe<Static<T> | null>({ ...plain, ...options, type: [plain.type, 'null'] });
}
