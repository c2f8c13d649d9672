export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetSeconds: number;
}

/**
 * Fixed-window counters kept in this process's memory. With several `stowage serve` processes
 * each enforces its own window, so a client may reach N × the limit; documented in the README.
 */
export class FixedWindowLimiter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(
    private readonly windowSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  hit(id: string, limit: number): RateDecision {
    const windowMs = this.windowSeconds * 1000;
    const nowMs = this.now();
    const window = Math.floor(nowMs / windowMs);
    if (window !== this.window) {
      this.window = window;
      this.counts = new Map();
    }
    const used = (this.counts.get(id) ?? 0) + 1;
    const allowed = used <= limit;
    if (allowed) this.counts.set(id, used);
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - Math.min(used, limit)),
      resetSeconds: Math.max(1, Math.ceil(((window + 1) * windowMs - nowMs) / 1000)),
    };
  }
}
