import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';

export interface PolicyValues {
  allowed_content_types: string[] | null;
  refused_content_types: string[] | null;
  max_upload_bytes: number | null;
  quota_bytes: number | null;
}

export const policyRepo = {
  find(db: Executor, orgId: string) {
    return db.selectFrom('content_policies').selectAll().where('org_id', '=', orgId).executeTakeFirst();
  },

  /** The policies of these orgs that have one (an org without a row has the default). */
  findMany(db: Executor, orgIds: string[]) {
    return db.selectFrom('content_policies').selectAll().where('org_id', 'in', orgIds).execute();
  },

  /** The org's policy replaced as a whole (PUT): what is not given is back to its default. */
  put(db: Executor, orgId: string, values: PolicyValues) {
    return db
      .insertInto('content_policies')
      .values({ org_id: orgId, ...values, updated_at: sql`now()` })
      .onConflict((oc) => oc.column('org_id').doUpdateSet({ ...values, updated_at: sql`now()` }))
      .returningAll()
      .executeTakeFirstOrThrow();
  },
};
