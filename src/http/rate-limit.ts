export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetSeconds: number;
}

interface Window {
  startMs: number;
  used: number;
}

/**
 * Where the counters live: this process's memory (tests on a hand clock, or a shared store's stand-in
 * while that store is unreachable), or a store every `stowage serve` process shares (rate-limit-shared.ts).
 */
export interface RateLimitStore {
  /** Counts one request of `id` in its window and says whether it stays within `limit`. */
  hit(id: string, limit: number): Promise<RateDecision>;
  /** The refusal this process already knows `id` has earned (its budget spent), asking no one. */
  refusedAlready(id: string, limit: number): RateDecision | null;
  close(): Promise<void>;
}

/**
 * Fixed-window counters kept in this process's memory. Each caller's window opens with its first
 * request, not on the wall clock's minute, so a burst is never split across two windows by when it
 * happened to start. Alone, each process enforces its own windows (N processes, N × the limit):
 * servers share theirs through rate-limit-shared.ts.
 */
export class FixedWindowLimiter {
  private windows = new Map<string, Window>();
  private lastPruneMs: number;

  constructor(
    private readonly windowSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastPruneMs = now();
  }

  hit(id: string, limit: number): RateDecision {
    const windowMs = this.windowSeconds * 1000;
    const nowMs = this.now();
    this.forgetEnded(nowMs, windowMs);
    let window = this.windows.get(id);
    if (!window || nowMs >= window.startMs + windowMs) {
      window = { startMs: nowMs, used: 0 };
      this.windows.set(id, window);
    }
    // A refused request does not count: the caller's budget is what it was allowed to spend.
    const allowed = window.used < limit;
    if (allowed) window.used++;
    return {
      allowed,
      limit,
      remaining: limit - window.used,
      resetSeconds: Math.max(1, Math.ceil((window.startMs + windowMs - nowMs) / 1000)),
    };
  }

  /** The refusal `id`'s next request would get, or null if it still has budget (nothing is counted). */
  refusedAlready(id: string, limit: number): RateDecision | null {
    const window = this.windows.get(id);
    const nowMs = this.now();
    const endMs = window ? window.startMs + this.windowSeconds * 1000 : 0;
    if (!window || nowMs >= endMs || window.used < limit) return null;
    return { allowed: false, limit, remaining: 0, resetSeconds: Math.max(1, Math.ceil((endMs - nowMs) / 1000)) };
  }

  /** How many callers have a window open (ended ones are forgotten once a window length has passed). */
  get tracked(): number {
    return this.windows.size;
  }

  private forgetEnded(nowMs: number, windowMs: number): void {
    if (nowMs - this.lastPruneMs < windowMs) return;
    this.lastPruneMs = nowMs;
    for (const [id, window] of this.windows) if (nowMs >= window.startMs + windowMs) this.windows.delete(id);
  }
}

/** The in-memory limiter behind the store interface. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly limiter: FixedWindowLimiter;

  constructor(windowSeconds: number, now: () => number = Date.now) {
    this.limiter = new FixedWindowLimiter(windowSeconds, now);
  }

  async hit(id: string, limit: number): Promise<RateDecision> {
    return this.limiter.hit(id, limit);
  }

  refusedAlready(id: string, limit: number): RateDecision | null {
    return this.limiter.refusedAlready(id, limit);
  }

  async close(): Promise<void> {}
}
