import type { Selectable } from 'kysely';
import type { Executor } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import type { Caller } from './caller.js';

/** The org-owned rows a route names by id, with the word a 404 uses for each. */
const TABLES = { upload: 'uploads', part: 'parts', job: 'jobs', folder: 'folders', file: 'files', reading: 'readings' } as const;
export type OwnedKind = keyof typeof TABLES;
type RowOf<K extends OwnedKind> = Selectable<Database[(typeof TABLES)[K]]>;

/**
 * The caller's row of this kind, else a 404. A malformed id, an unknown id and another org's id
 * answer exactly alike, so ids of other orgs cannot be probed. With `lock`, the row is locked for
 * the rest of the transaction: state changes are decided on what this returns.
 */
export async function findOwned<K extends OwnedKind>(
  db: Executor,
  caller: Caller,
  kind: K,
  id: string,
  options: { lock?: boolean } = {},
): Promise<RowOf<K>> {
  if (!isUuid(id)) throw notFound(kind);
  // One query shape for every table: each has `id` and `org_id`.
  let query = db
    .selectFrom(TABLES[kind] as 'uploads')
    .selectAll()
    .where('id', '=', id)
    .where('org_id', '=', caller.orgId);
  if (options.lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound(kind);
  return row as unknown as RowOf<K>;
}
