import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { rateLimited } from '../errors.js';
import { FixedWindowLimiter, type RateDecision } from './rate-limit.js';

/**
 * Per-key and per-org limits on authenticated routes; headers report the tighter of the two.
 * `now` is the limiter's clock (milliseconds), for tests that step through windows.
 */
export function installRateLimits(app: FastifyInstance, config: Config['rateLimit'], now: () => number = Date.now): void {
  if (!config.enabled) return;
  const limiter = new FixedWindowLimiter(config.windowSeconds, now);
  app.addHook('onRequest', async (request, reply) => {
    const principal = request.principal;
    if (!principal) return;
    const byKey = limiter.hit(`key:${principal.keyId}`, config.perKey);
    // A request the key's own limit refuses does not count against its organisation.
    const byOrg = byKey.allowed ? limiter.hit(`org:${principal.orgId}`, config.perOrg) : null;
    const tighter = byOrg ? tightest(byKey, byOrg) : byKey;
    reply.headers({
      'ratelimit-limit': String(tighter.limit),
      'ratelimit-remaining': String(tighter.remaining),
      'ratelimit-reset': String(tighter.resetSeconds),
    });
    if (!byKey.allowed) throw rateLimited(byKey.resetSeconds, 'key');
    if (byOrg && !byOrg.allowed) throw rateLimited(byOrg.resetSeconds, 'org');
  });
}

function tightest(a: RateDecision, b: RateDecision): RateDecision {
  if (a.allowed !== b.allowed) return a.allowed ? b : a;
  return a.remaining <= b.remaining ? a : b;
}
