import { sql } from 'kysely';
import type { Caller } from '../../access/caller.js';
import type { Executor } from '../../db/database.js';
import type { Page } from '../../db/keyset.js';
import type { WebhookDeliveryStatus, WebhookRow } from '../../db/schema.js';
import { conflict, notFound, validationError } from '../../errors.js';
import { isUuid, newId } from '../../ids.js';
import { WAKE_CHANNEL } from '../../jobs/wake-listener.js';
import type { ModuleDeps } from '../module.js';
import { DISPATCH_KIND } from './dispatch-task.js';
import { deliveriesRepo, webhooksRepo } from './repo.js';
import { type TargetProblem, checkTargetUrl } from './safe-target.js';
import { MAX_WEBHOOKS_PER_ORG } from './schema.js';
import { newWebhookSecret } from './send.js';
import { deliveryView, webhookView } from './view.js';

/** How long creating or changing an endpoint waits for its host to resolve. */
const DNS_WAIT_MS = 5000;

export interface WebhookInput {
  url: string;
  events: string[];
  description?: string | null;
  enabled?: boolean;
}

/** Webhook endpoints of an org, their secrets and their deliveries. */
export class WebhooksService {
  constructor(private readonly deps: ModuleDeps) {}

  async create(caller: Caller, input: WebhookInput) {
    await this.checkUrl(input.url);
    const secret = newWebhookSecret();
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const count = await webhooksRepo.countLocked(tx, caller.orgId);
      if (count >= MAX_WEBHOOKS_PER_ORG) {
        throw conflict(`an organisation has at most ${MAX_WEBHOOKS_PER_ORG} webhook endpoints; delete one first`, {
          limit: MAX_WEBHOOKS_PER_ORG,
        });
      }
      return webhooksRepo.insert(tx, {
        id: newId(),
        org_id: caller.orgId,
        url: input.url,
        events: input.events,
        description: input.description ?? null,
        enabled: input.enabled ?? true,
        secret,
        created_by_key_id: caller.keyId,
      });
    });
    return { ...webhookView(row), secret };
  }

  async list(caller: Caller) {
    const rows = await webhooksRepo.list(this.deps.db, caller.orgId);
    // Capped per org (MAX_WEBHOOKS_PER_ORG): the whole list is one page.
    return { count: rows.length, data: rows.map(webhookView), next_cursor: null };
  }

  async get(caller: Caller, id: string) {
    return webhookView(await this.owned(this.deps.db, caller, id));
  }

  async update(caller: Caller, id: string, input: Partial<WebhookInput>) {
    if (input.url !== undefined) await this.checkUrl(input.url);
    return this.deps.db.transaction().execute(async (tx) => {
      const row = await this.owned(tx, caller, id, { lock: true });
      const enabling = input.enabled === true && !row.enabled;
      const disabling = input.enabled === false && row.enabled;
      const updated = await webhooksRepo.update(tx, row.id, {
        ...(input.url !== undefined ? { url: input.url } : {}),
        ...(input.events !== undefined ? { events: input.events } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        // Enabled again by a person: a fresh start, whatever disabled it.
        ...(enabling || disabling ? { disabled_reason: null, failing_since: null } : {}),
      });
      if (disabling) await deliveriesRepo.failPending(tx, row.id, 'endpoint disabled by a person');
      return webhookView(updated);
    });
  }

  async delete(caller: Caller, id: string): Promise<void> {
    await this.deps.db.transaction().execute(async (tx) => {
      const row = await this.owned(tx, caller, id, { lock: true });
      await webhooksRepo.delete(tx, row.id);
    });
  }

  /** A new secret, shown once; the old one still signs (beside it) for a while, so receivers can switch. */
  async rotateSecret(caller: Caller, id: string) {
    const secret = newWebhookSecret();
    return this.deps.db.transaction().execute(async (tx) => {
      const row = await this.owned(tx, caller, id, { lock: true });
      const graceMs = this.deps.config.webhooks.previousSecretSeconds * 1000;
      const updated = await webhooksRepo.update(tx, row.id, {
        secret,
        previous_secret: graceMs > 0 ? row.secret : null,
        previous_secret_expires_at: graceMs > 0 ? new Date(Date.now() + graceMs) : null,
      });
      return {
        ...webhookView(updated),
        secret,
        previous_secret_expires_at: updated.previous_secret_expires_at?.toISOString() ?? null,
      };
    });
  }

  async deliveries(caller: Caller, id: string, options: { status?: WebhookDeliveryStatus } & Page) {
    const row = await this.owned(this.deps.db, caller, id);
    const { rows, count, nextCursor } = await deliveriesRepo.list(this.deps.db, caller.orgId, row.id, options);
    return { count, data: rows.map(deliveryView), next_cursor: nextCursor };
  }

  /** Sends one delivery again (the same `webhook-id`), whatever became of it, with a fresh schedule. */
  async redeliver(caller: Caller, id: string, deliveryId: string) {
    return this.deps.db.transaction().execute(async (tx) => {
      const row = await this.owned(tx, caller, id);
      if (!isUuid(deliveryId) || !(await deliveriesRepo.find(tx, row.id, deliveryId))) throw notFound('delivery');
      refuseDisabled(row);
      await deliveriesRepo.requeue(tx, row.id, [deliveryId]);
      await wakeDispatchers(tx);
      return deliveryView((await deliveriesRepo.find(tx, row.id, deliveryId))!);
    });
  }

  /** Every failed delivery of events in [since, until) is pending again. */
  async recover(caller: Caller, id: string, window: { since: string; until?: string }) {
    const since = new Date(window.since);
    const until = window.until ? new Date(window.until) : new Date();
    if (since >= until) throw validationError([{ path: 'body.since', message: 'since must be before until' }]);
    return this.deps.db.transaction().execute(async (tx) => {
      const row = await this.owned(tx, caller, id);
      refuseDisabled(row);
      const recovered = await deliveriesRepo.requeue(tx, row.id, { failedSince: since, until });
      if (recovered) await wakeDispatchers(tx);
      return { recovered };
    });
  }

  private async owned(db: Executor, caller: Caller, id: string, options: { lock?: boolean } = {}): Promise<WebhookRow> {
    const row = isUuid(id) ? await webhooksRepo.find(db, caller.orgId, id, options) : undefined;
    if (!row) throw notFound('webhook');
    return row;
  }

  private async checkUrl(url: string): Promise<void> {
    const checked = checkTargetUrl(url, { allowPrivate: this.deps.config.webhooks.allowPrivateTargets });
    let timer: NodeJS.Timeout | undefined;
    // A resolver that does not answer must not hold the request: a name that cannot be checked is refused.
    const slow = new Promise<TargetProblem>((resolve) => {
      timer = setTimeout(
        () => resolve({ code: 'unresolvable', message: `the host did not resolve within ${DNS_WAIT_MS / 1000} s` }),
        DNS_WAIT_MS,
      );
    });
    const problem = await Promise.race([checked, slow]).finally(() => clearTimeout(timer));
    if (problem) throw validationError([{ path: 'body.url', message: problem.message }]);
  }
}

function refuseDisabled(row: WebhookRow): void {
  if (!row.enabled) {
    throw conflict('this endpoint is disabled: enable it first (PATCH with enabled: true)', {
      disabled_reason: row.disabled_reason,
    });
  }
}

/** At commit, every worker's dispatcher looks for due deliveries at once. */
async function wakeDispatchers(db: Executor): Promise<void> {
  await sql`SELECT pg_notify(${WAKE_CHANNEL}, ${DISPATCH_KIND})`.execute(db);
}
