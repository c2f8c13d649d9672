import type { Logger } from 'pino';
import type { RateLimiterStoreAbstract } from 'rate-limiter-flexible';
import { FixedWindowLimiter, type RateDecision, type RateLimitStore } from './rate-limit.js';

/** How often, at most, an unreachable store is reported: once per request would drown the log. */
const WARN_EVERY_MS = 10_000;
/** Callers whose spent budget is remembered locally; past it the ended ones are forgotten. */
const SPENT_PRUNE_AT = 10_000;

/**
 * Fixed windows counted in a store every process shares (PostgreSQL or Redis, through
 * rate-limiter-flexible), so the limit is the limit whatever the number of processes. Each count is
 * one atomic upsert that opens the caller's window at its first request, like the in-memory limiter.
 *
 * Once the store says a caller's budget is spent, this process remembers it until the window ends
 * and refuses that caller without asking the store again: a flood past the limit costs no statement.
 * That changes no answer, since refused requests would not have reopened the window.
 *
 * When the store cannot be reached the requests are not refused for it: they are counted in this
 * process's memory instead (the limit is then per process, as before sharing), and a warning is
 * logged. PostgreSQL down fails the request itself anyway (503); Redis down must not take the API with it.
 */
export class SharedRateLimitStore implements RateLimitStore {
  private readonly spentUntil = new Map<string, number>();
  private readonly fallback: FixedWindowLimiter;
  private lastWarningMs = -Infinity;

  constructor(
    private readonly counters: RateLimiterStoreAbstract,
    private readonly options: {
      windowSeconds: number;
      storeName: string;
      logger: Pick<Logger, 'warn'>;
      close?: () => Promise<void>;
    },
  ) {
    this.fallback = new FixedWindowLimiter(options.windowSeconds);
  }

  async hit(id: string, limit: number): Promise<RateDecision> {
    const known = this.refusedAlready(id, limit);
    if (known) return known;
    let consumed: number;
    let msLeft: number;
    try {
      const counted = await this.counters.consume(id);
      consumed = counted.consumedPoints;
      msLeft = counted.msBeforeNext;
    } catch (error) {
      this.warnUnreachable(error);
      return this.fallback.hit(id, limit);
    }
    const decision: RateDecision = {
      allowed: consumed <= limit,
      limit,
      remaining: Math.max(0, limit - consumed),
      resetSeconds: Math.max(1, Math.ceil(msLeft / 1000)),
    };
    if (decision.remaining === 0) this.rememberSpent(id, Date.now() + msLeft);
    return decision;
  }

  refusedAlready(id: string, limit: number): RateDecision | null {
    const untilMs = this.spentUntil.get(id);
    const nowMs = Date.now();
    if (untilMs !== undefined && nowMs < untilMs) {
      return { allowed: false, limit, remaining: 0, resetSeconds: Math.max(1, Math.ceil((untilMs - nowMs) / 1000)) };
    }
    return this.fallback.refusedAlready(id, limit);
  }

  /** Reports the store unreachable, at most once per WARN_EVERY_MS. */
  warnUnreachable(error: unknown): void {
    const nowMs = Date.now();
    if (nowMs - this.lastWarningMs < WARN_EVERY_MS) return;
    this.lastWarningMs = nowMs;
    this.options.logger.warn(
      { err: error, store: this.options.storeName },
      'rate-limit store unreachable: counting in this process only until it answers',
    );
  }

  async close(): Promise<void> {
    await this.options.close?.();
  }

  private rememberSpent(id: string, untilMs: number): void {
    if (this.spentUntil.size >= SPENT_PRUNE_AT) {
      const nowMs = Date.now();
      for (const [known, until] of this.spentUntil) if (until <= nowMs) this.spentUntil.delete(known);
      if (this.spentUntil.size >= SPENT_PRUNE_AT) this.spentUntil.clear();
    }
    this.spentUntil.set(id, untilMs);
  }
}
