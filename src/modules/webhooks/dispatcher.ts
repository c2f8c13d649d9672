import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { Metrics } from '../../metrics.js';
import { type AttemptRecord, type ClaimedDelivery, deliveryQueue } from './delivery-queue.js';
import { type EndpointOutcomes, recordEndpointOutcomes } from './endpoint-health.js';
import { afterFailure } from './retry-policy.js';
import { type SendOutcome, destroyWebhookAgents, sendWebhook, signDelivery } from './send.js';

/** How often due deliveries are looked for without a wake (retries coming due, other processes' events). */
const POLL_MS = 1000;

export interface DispatcherDeps {
  db: Db;
  config: Config;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Sends due deliveries, up to `concurrency` at once per process: claims them in batches, sends each
 * signed, and records the results in batches. Woken by the outbox's notification at commit, and
 * polling besides, so a lost notification costs at most a second.
 */
export class WebhookDispatcher {
  private inFlight = 0;
  private claiming = false;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly results: { record: AttemptRecord; webhookId: string; outcome: SendOutcome }[] = [];
  private flushing: Promise<void> | null = null;
  private readonly idle = new Set<() => void>();

  constructor(private readonly deps: DispatcherDeps) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.timer.unref();
    this.wake();
  }

  /** Looks for due deliveries now. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    void this.claimWhileRoom();
  }

  /** Takes no more deliveries and waits for those being sent (each ends within the timeout) to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.inFlight > 0 || this.claiming) await new Promise<void>((resolve) => this.idle.add(resolve));
    await this.flush();
    destroyWebhookAgents();
  }

  private async claimWhileRoom(): Promise<void> {
    this.claiming = true;
    try {
      do {
        this.again = false;
        const room = this.deps.config.webhooks.concurrency - this.inFlight;
        if (room <= 0 || this.stopped) break;
        const claimed = await deliveryQueue.claim(this.deps.db, room, this.deps.config.webhooks.leaseSeconds);
        for (const delivery of claimed) void this.attempt(delivery);
        // A full batch suggests more are due.
        if (claimed.length === room) this.again = true;
      } while (this.again);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'webhook dispatcher could not claim deliveries; retrying at the next poll');
    } finally {
      this.claiming = false;
      this.notifyIdle();
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    this.inFlight++;
    const { config } = this.deps;
    let outcome: SendOutcome;
    try {
      outcome = delivery.enabled
        ? await this.send(delivery)
        : { ok: false, status: null, retryAfterSeconds: null, error: 'the endpoint is disabled', durationMs: 0 };
    } catch (error) {
      outcome = { ok: false, status: null, retryAfterSeconds: null, error: (error as Error).message, durationMs: 0 };
    }
    const verdict = outcome.ok
      ? { status: 'succeeded' as const }
      : delivery.enabled
        ? afterFailure(config.webhooks.retryScheduleSeconds, delivery.attempts, outcome.retryAfterSeconds)
        : { status: 'failed' as const };
    this.results.push({
      webhookId: delivery.webhook_id,
      outcome,
      record: {
        id: delivery.id,
        attempts: delivery.attempts,
        status: outcome.status === 410 ? 'failed' : verdict.status,
        next_attempt_at: verdict.status === 'pending' ? verdict.nextAttemptAt : null,
        last_status_code: outcome.status,
        last_error: outcome.ok ? null : (outcome.error ?? `HTTP ${outcome.status}`).slice(0, 1000),
      },
    });
    this.deps.metrics.webhookAttempts.inc({ outcome: outcome.ok ? 'delivered' : verdict.status === 'failed' ? 'dead' : 'retry' });
    this.inFlight--;
    this.scheduleFlush();
    this.wake();
  }

  private send(delivery: ClaimedDelivery): Promise<SendOutcome> {
    const { webhooks } = this.deps.config;
    const body = JSON.stringify({ type: delivery.type, timestamp: delivery.event_at.toISOString(), data: delivery.data });
    const now = new Date();
    const secrets = [delivery.secret];
    if (delivery.previous_secret && delivery.previous_secret_expires_at && delivery.previous_secret_expires_at > now) {
      secrets.push(delivery.previous_secret);
    }
    return sendWebhook({
      url: delivery.url,
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': delivery.event_id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signDelivery(secrets, delivery.event_id, now, body),
      },
      timeoutMs: webhooks.timeoutSeconds * 1000,
      allowPrivate: webhooks.allowPrivateTargets,
    });
  }

  /** One statement for the results of one event-loop turn; results arriving meanwhile wait for the next. */
  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    while (this.results.length) {
      const batch = this.results.splice(0, 500);
      try {
        await deliveryQueue.record(
          this.deps.db,
          batch.map((r) => r.record),
        );
        await recordEndpointOutcomes(this.deps.db, outcomesOf(batch), this.deps.config.webhooks.disableAfterSeconds);
      } catch (error) {
        // Unrecorded attempts come due again when their lease ends: sent twice, never lost.
        this.deps.logger.warn({ err: error, deliveries: batch.length }, 'webhook attempts could not be recorded');
      }
    }
    this.flushing = null;
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.inFlight > 0 || this.claiming) return;
    for (const resolve of this.idle) resolve();
    this.idle.clear();
  }
}

function outcomesOf(batch: readonly { webhookId: string; outcome: SendOutcome }[]): EndpointOutcomes {
  const outcomes: EndpointOutcomes = { answered: new Set(), failed: new Set(), gone: new Set() };
  for (const { webhookId, outcome } of batch) {
    if (outcome.status === 410) outcomes.gone.add(webhookId);
    else if (outcome.ok) outcomes.answered.add(webhookId);
    else outcomes.failed.add(webhookId);
  }
  return outcomes;
}
