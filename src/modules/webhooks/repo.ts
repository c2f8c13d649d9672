import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Page, keysetPage, newestFirst, pageEnd } from '../../db/keyset.js';
import { countedRows } from '../../db/list-counts.js';
import type { WebhookDeliveryStatus, WebhookRow, WebhookTable } from '../../db/schema.js';
import type { Insertable, Updateable } from 'kysely';

/** Endpoints, always within one org. */
export const webhooksRepo = {
  async insert(db: Executor, row: Insertable<WebhookTable>): Promise<WebhookRow> {
    return db.insertInto('webhooks').values(row).returningAll().executeTakeFirstOrThrow();
  },

  /** An org's endpoint, else undefined: another org's id reads as unknown. */
  async find(db: Executor, orgId: string, id: string, options: { lock?: boolean } = {}): Promise<WebhookRow | undefined> {
    let query = db.selectFrom('webhooks').selectAll().where('id', '=', id).where('org_id', '=', orgId);
    if (options.lock) query = query.forUpdate();
    return query.executeTakeFirst();
  },

  /** Every endpoint of the org (at most MAX_WEBHOOKS_PER_ORG), newest first. */
  async list(db: Executor, orgId: string): Promise<WebhookRow[]> {
    return db.selectFrom('webhooks').selectAll().where('org_id', '=', orgId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  },

  /** Locks the org's endpoints, so two creations at once cannot both pass the per-org cap. */
  async countLocked(db: Executor, orgId: string): Promise<number> {
    await sql`SELECT pg_advisory_xact_lock(hashtext('webhooks'), hashtext(${orgId}))`.execute(db);
    const row = await db
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  },

  async update(db: Executor, id: string, changes: Updateable<WebhookTable>): Promise<WebhookRow> {
    return db
      .updateTable('webhooks')
      .set({ ...changes, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('webhooks').where('id', '=', id).execute();
  },
};

/** A delivery as the API lists it: the row with its event's type. */
export const DELIVERY_COLUMNS = [
  'd.id',
  'd.webhook_id',
  'd.event_id',
  'e.type as event_type',
  'd.status',
  'd.attempts',
  'd.last_status_code',
  'd.last_error',
  'd.last_attempt_at',
  'd.next_attempt_at',
  'd.created_at',
] as const;

/** An endpoint's deliveries, newest first (webhook_deliveries_list_idx, webhook_deliveries_status_idx). */
export const DELIVERIES_KEYSET = newestFirst('webhook_deliveries', 'd');

export const deliveriesRepo = {
  async list(db: Executor, orgId: string, webhookId: string, options: { status?: WebhookDeliveryStatus } & Page) {
    let query = db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
      .select(DELIVERY_COLUMNS)
      .where('d.webhook_id', '=', webhookId);
    if (options.status) query = query.where('d.status', '=', options.status);
    const [rows, count] = await Promise.all([
      keysetPage(query, DELIVERIES_KEYSET, options).execute(),
      countedRows(db, orgId, options.status ? `webhook_deliveries_${options.status}` : 'webhook_deliveries', webhookId),
    ]);
    return { ...pageEnd(DELIVERIES_KEYSET, rows, options.limit), count };
  },

  async find(db: Executor, webhookId: string, id: string) {
    return db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
      .select(DELIVERY_COLUMNS)
      .where('d.webhook_id', '=', webhookId)
      .where('d.id', '=', id)
      .executeTakeFirst();
  },

  /** Due now, as a fresh delivery: a redelivery gets the whole schedule again. */
  async requeue(db: Executor, webhookId: string, ids: string[] | { failedSince: Date; until: Date }): Promise<number> {
    let query = db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: sql`now()`, updated_at: sql`now()` })
      .where('webhook_id', '=', webhookId);
    if (Array.isArray(ids)) {
      query = query.where('id', 'in', ids);
    } else {
      query = query.where('status', '=', 'failed').where('created_at', '>=', ids.failedSince).where('created_at', '<', ids.until);
    }
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  },

  /** An endpoint disabled: what it still had pending fails now (a recover after re-enabling sends it). */
  async failPending(db: Executor, webhookId: string, reason: string): Promise<void> {
    await db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', last_error: reason, updated_at: sql`now()` })
      .where('webhook_id', '=', webhookId)
      .where('status', '=', 'pending')
      .execute();
  },
};
