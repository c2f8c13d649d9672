import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { ApiKeyRow } from '../../db/schema.js';

export interface KeyWithOrg extends ApiKeyRow {
  org_name: string;
}

export const keysRepo = {
  findOrgByName(db: Executor, name: string) {
    return db.selectFrom('orgs').selectAll().where('name', '=', name).executeTakeFirst();
  },

  async ensureOrg(db: Executor, id: string, name: string) {
    await db
      .insertInto('orgs')
      .values({ id, name })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    return db.selectFrom('orgs').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
  },

  insert(db: Executor, row: Pick<ApiKeyRow, 'id' | 'org_id' | 'prefix' | 'secret_hash' | 'scopes' | 'label'>) {
    return db.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow();
  },

  findByPrefix(db: Executor, prefix: string) {
    return db.selectFrom('api_keys').selectAll().where('prefix', '=', prefix).executeTakeFirst();
  },

  list(db: Executor, orgId: string | null) {
    let query = db
      .selectFrom('api_keys')
      .innerJoin('orgs', 'orgs.id', 'api_keys.org_id')
      .selectAll('api_keys')
      .select('orgs.name as org_name')
      .orderBy('api_keys.created_at', 'desc')
      .orderBy('api_keys.id', 'desc');
    if (orgId) query = query.where('api_keys.org_id', '=', orgId);
    return query.execute() as Promise<KeyWithOrg[]>;
  },

  findInOrg(db: Executor, id: string, orgId: string | null) {
    let query = db.selectFrom('api_keys').selectAll().where('id', '=', id);
    if (orgId) query = query.where('org_id', '=', orgId);
    return query.executeTakeFirst();
  },

  revoke(db: Executor, id: string) {
    return db
      .updateTable('api_keys')
      .set({ revoked_at: sql`coalesce(revoked_at, now())` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /** Bumped at most once a minute per key: a write on every request would double the cost of reads. */
  touch(db: Executor, id: string) {
    return db
      .updateTable('api_keys')
      .set({ last_used_at: sql`now()` })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - interval '60 seconds'`)]))
      .execute();
  },
};
