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
 * Fixed-window counters kept in this process's memory. Each caller's window opens with its first
 * request, not on the wall clock's minute, so a burst is never split across two windows by when it
 * happened to start. With several `stowage serve` processes each enforces its own windows, so a
 * client may reach N × the limit; documented in the README.
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
