import { type RawBuilder, type SelectQueryBuilder, sql } from 'kysely';
import { validationError } from '../errors.js';
import { isUuid } from '../ids.js';

/**
 * Keyset paging: a cursor names the sort key of the last row a page showed, and the next page is the
 * rows after that key in the list's order — an index range, whatever the depth, where an offset reads
 * and throws away every row before it. The key is never looked up as a row: a page after a row deleted
 * meanwhile continues from where that row stood.
 *
 * The cursor is opaque to clients: base64url of a small JSON array, the list's tag then the key's
 * values. Timestamps travel as text taken from SQL in full (microsecond) precision, never through a
 * JS Date (milliseconds), which would repeat or skip rows sharing a millisecond.
 */

/** How one key column travels in a cursor and is checked when it comes back. */
export type KeyKind = 'timestamp' | 'uuid' | 'text' | 'integer' | 'number';

export interface KeyColumn {
  /** The column as the list's query names it (`created_at`, `d.created_at`). */
  ref: string;
  kind: KeyKind;
}

/** One list's sort: its tag (a cursor of another list is refused), its key columns, the last one unique. */
export interface Keyset {
  tag: string;
  direction: 'asc' | 'desc';
  columns: readonly KeyColumn[];
}

export type KeyValues = readonly (string | number)[];

/** The page a list query asked for: limit and offset, and the key its cursor names (null: from the head). */
export interface Page {
  limit: number;
  offset: number;
  after: KeyValues | null;
}

/** Longest cursor accepted: a few values, the longest a folder name (255) and a uuid. */
export const MAX_CURSOR_LENGTH = 1024;
const MAX_TEXT_KEY = 1000;

/** A list ordered newest first: created_at, then id as the tie-breaker. */
export function newestFirst(tag: string, table?: string): Keyset {
  const at = table ? `${table}.` : '';
  return {
    tag,
    direction: 'desc',
    columns: [
      { ref: `${at}created_at`, kind: 'timestamp' },
      { ref: `${at}id`, kind: 'uuid' },
    ],
  };
}

/**
 * One page of a list in its keyset's order: the rows after the cursor's key (all, without one), each
 * with its `cursor_key`, and one row more than the limit for pageEnd to see whether more follow.
 */
export function keysetPage<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  keyset: Keyset,
  page: Page,
): SelectQueryBuilder<DB, TB, O & { cursor_key: string[] }> {
  const from = page.after ? query.where(afterKey(keyset, page.after)) : query;
  let paged = from.select(keyColumn(keyset).as('cursor_key')) as unknown as SelectQueryBuilder<DB, TB, O & { cursor_key: string[] }>;
  for (const column of keyset.columns) paged = paged.orderBy(sql.ref(column.ref), keyset.direction);
  return paged.limit(page.limit + 1).offset(page.offset);
}

/** `cursor_key` for a select list: the row's key as text, each timestamp in UTC to the microsecond. */
export function keyColumn(keyset: Keyset): RawBuilder<string[]> {
  const parts = keyset.columns.map((c) =>
    c.kind === 'timestamp'
      ? sql`to_char(${sql.ref(c.ref)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
      : sql`${sql.ref(c.ref)}::text`,
  );
  return sql<string[]>`ARRAY[${sql.join(parts)}]`;
}

/**
 * The rows after `values` in the list's order: one row comparison on the index's columns, so the
 * scan starts at the key instead of at the head of the list.
 */
export function afterKey(keyset: Keyset, values: KeyValues): RawBuilder<boolean> {
  const columns = sql.join(keyset.columns.map((c) => sql.ref(c.ref)));
  const bound = sql.join(keyset.columns.map((c, i) => typed(c.kind, values[i])));
  return keyset.direction === 'desc' ? sql<boolean>`(${columns}) < (${bound})` : sql<boolean>`(${columns}) > (${bound})`;
}

function typed(kind: KeyKind, value: string | number) {
  switch (kind) {
    case 'timestamp':
      return sql`${value}::timestamptz`;
    case 'uuid':
      return sql`${value}::uuid`;
    case 'integer':
      return sql`${value}::int`;
    case 'number':
      return sql`${value}::float8`;
    default:
      return sql`${value}::text`;
  }
}

export function encodeCursor(keyset: Keyset, values: KeyValues): string {
  return Buffer.from(JSON.stringify([keyset.tag, ...values])).toString('base64url');
}

/** The cursor of the row a page ended on, from its `cursor_key` (as keyColumn selected it). */
export function cursorOf(keyset: Keyset, key: readonly string[]): string {
  return encodeCursor(
    keyset,
    keyset.columns.map((c, i) => (c.kind === 'integer' || c.kind === 'number' ? Number(key[i]) : key[i])),
  );
}

/**
 * A page read with LIMIT limit + 1: the extra row, if any, only says that more follow. The cursor is
 * the key of the page's last row, null when the list ends here.
 */
export function pageEnd<R extends { cursor_key: string[] }>(keyset: Keyset, rows: R[], limit: number) {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { rows: page, nextCursor: more ? cursorOf(keyset, page[page.length - 1].cursor_key) : null };
}

/**
 * The key a client's cursor names, checked against the list's keyset so that nothing malformed
 * reaches PostgreSQL as a cast error: 422 on `querystring.cursor` otherwise.
 */
export function decodeCursor(keyset: Keyset, cursor: string): KeyValues {
  const refuse = (message: string) => validationError([{ path: 'querystring.cursor', message }], `invalid cursor: ${message}`);
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw refuse('not a cursor this service issued');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse('not a cursor this service issued');
  }
  if (!Array.isArray(decoded) || typeof decoded[0] !== 'string') throw refuse('not a cursor this service issued');
  const [tag, ...values] = decoded as [string, ...unknown[]];
  if (tag !== keyset.tag) throw refuse('a cursor of another list; pass the next_cursor this list answered');
  if (values.length !== keyset.columns.length) throw refuse('not a cursor this service issued');
  keyset.columns.forEach((column, i) => {
    if (!validKey(column.kind, values[i])) throw refuse(`its ${column.ref.replace(/^\w+\./, '')} is not a valid ${column.kind}`);
  });
  return values as (string | number)[];
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

function validKey(kind: KeyKind, value: unknown): boolean {
  switch (kind) {
    case 'timestamp':
      return typeof value === 'string' && validTimestamp(value);
    case 'uuid':
      return typeof value === 'string' && isUuid(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= -2_147_483_648 && value <= 2_147_483_647;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      // PostgreSQL text holds no NUL: one would be a 500 rather than a key.
      return typeof value === 'string' && value.length <= MAX_TEXT_KEY && !value.includes('\0');
  }
}

/** A real UTC instant (no 30 February, no hour 24), in the form keyColumn writes. */
function validTimestamp(value: string): boolean {
  const m = TIMESTAMP.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  if (year < 1 || hour > 23 || minute > 59 || second > 59 || month < 1 || month > 12 || day < 1) return false;
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return day <= date.getUTCDate();
}
