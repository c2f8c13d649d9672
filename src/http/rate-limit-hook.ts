import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { AppError, rateLimited } from '../errors.js';
import { MemoryRateLimitStore, type RateDecision, type RateLimitStore } from './rate-limit.js';

/**
 * Per-key and per-org limits on authenticated routes; headers report the tighter of the two. A 403
 * (the key lacks the route's scope: refused by auth before this hook runs) spends the budget too.
 * `store` is where the counters live (shared by every process in a server); without one they are
 * kept in memory on `now`, a clock in milliseconds, for tests that step through windows.
 */
export function installRateLimits(
  app: FastifyInstance,
  config: Config['rateLimit'],
  now: () => number = Date.now,
  store: RateLimitStore = new MemoryRateLimitStore(config.windowSeconds, now),
): void {
  if (!config.enabled) return;
  const counted = new WeakSet<FastifyRequest>();

  const hitKeyThenOrg = async (request: FastifyRequest) => {
    const principal = request.principal;
    if (!principal || counted.has(request)) return null;
    counted.add(request);
    const byKey = await store.hit(`key:${principal.keyId}`, config.perKey);
    // A request the key's own limit refuses does not count against its organisation.
    const byOrg = byKey.allowed ? await store.hit(`org:${principal.orgId}`, config.perOrg) : null;
    return { byKey, byOrg };
  };

  app.addHook('onRequest', async (request, reply) => {
    const hits = await hitKeyThenOrg(request);
    if (!hits) return;
    const { byKey, byOrg } = hits;
    setLimitHeaders(reply, byOrg ? tightest(byKey, byOrg) : byKey);
    if (!byKey.allowed) throw rateLimited(byKey.resetSeconds, 'key');
    if (byOrg && !byOrg.allowed) throw rateLimited(byOrg.resetSeconds, 'org');
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 403 && request.routeOptions.config?.scope) {
      const hits = await hitKeyThenOrg(request);
      if (hits) setLimitHeaders(reply, hits.byOrg ? tightest(hits.byKey, hits.byOrg) : hits.byKey);
    }
    return payload;
  });
}

/**
 * Requests with a missing or bad key (401) are counted per client address, against the per-key
 * limit: once an address has spent it, its requests to authenticated routes are refused (429) before
 * their key is looked up, so a flood of guessed keys costs the database nothing more. Each process
 * learns of a spent budget from the shared count on its next 401, so N processes answer at most
 * N − 1 more 401s than the limit. Installed before auth, whose lookup it spares.
 */
export function installFailedAuthLimits(app: FastifyInstance, config: Config['rateLimit'], store: RateLimitStore): void {
  if (!config.enabled) return;
  const idOf = (request: FastifyRequest) => `ip:${request.ip}`;

  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.config?.scope) return;
    const refused = store.refusedAlready(idOf(request), config.perKey);
    if (!refused) return;
    setLimitHeaders(reply, refused);
    throw addressRateLimited(refused.resetSeconds);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 401 && request.routeOptions.config?.scope) {
      setLimitHeaders(reply, await store.hit(idOf(request), config.perKey));
    }
    return payload;
  });
}

/** The 429 of an address that spent its budget on missing or bad keys: `rateLimited`'s envelope, scope `ip`. */
function addressRateLimited(retryAfterSeconds: number): AppError {
  return new AppError(
    429,
    'rate_limited',
    `too many requests with a missing or invalid API key from this address; retry after ${retryAfterSeconds} s`,
    { scope: 'ip', retry_after: retryAfterSeconds },
    true,
    { 'retry-after': String(retryAfterSeconds) },
  );
}

function setLimitHeaders(reply: FastifyReply, decision: RateDecision): void {
  reply.headers({
    'ratelimit-limit': String(decision.limit),
    'ratelimit-remaining': String(decision.remaining),
    'ratelimit-reset': String(decision.resetSeconds),
  });
}

function tightest(a: RateDecision, b: RateDecision): RateDecision {
  if (a.allowed !== b.allowed) return a.allowed ? b : a;
  return a.remaining <= b.remaining ? a : b;
}
