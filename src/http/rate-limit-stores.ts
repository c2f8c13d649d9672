import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterPostgres, RateLimiterRedis } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { type Db, executeRaw } from '../db/database.js';
import { MemoryRateLimitStore, type RateLimitStore } from './rate-limit.js';
import { SharedRateLimitStore } from './rate-limit-shared.js';

/** Every key in the store starts with it (`stowage:key:<id>`): a shared Redis may hold others'. */
const KEY_PREFIX = 'stowage';
/** The table of migration 0016. */
const TABLE = 'rate_limits';
/** The store only counts; what the count means is decided per caller from its own limit. */
const COUNT_ONLY = 2_147_483_647;
/** Ended windows are deleted an hour after they end, every five minutes (rate-limiter-flexible's own rhythm). */
const CLEAN_EVERY_MS = 5 * 60_000;
const KEEP_ENDED_MS = 60 * 60_000;
/** A Redis that hangs must not hold requests: past this a count falls back to memory. */
const REDIS_COMMAND_TIMEOUT_MS = 500;
/** How long the server waits for Redis at start before serving with counters in memory. */
const REDIS_FIRST_CONNECT_MS = 2_000;

/**
 * The counters the API's rate limits use: Redis when REDIS_URL is set, otherwise the service's own
 * PostgreSQL; in memory when limits are off (nothing is opened then).
 */
export async function openRateLimitStore(config: Config, db: Db, logger: Pick<Logger, 'warn'>): Promise<RateLimitStore> {
  const { enabled, windowSeconds } = config.rateLimit;
  if (!enabled) return new MemoryRateLimitStore(windowSeconds);
  return config.redisUrl ? openRedisStore(config.redisUrl, windowSeconds, logger) : openPostgresStore(db, windowSeconds, logger);
}

function openPostgresStore(db: Db, windowSeconds: number, logger: Pick<Logger, 'warn'>): RateLimitStore {
  // The upserts go through the service's own pool; rate-limiter-flexible only needs `query`.
  const client = { query: ({ text, values }: { text: string; values?: unknown[] }) => executeRaw(db, text, values ?? []) };
  const counters = new RateLimiterPostgres({
    storeClient: client,
    storeType: 'client',
    tableName: TABLE,
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix: KEY_PREFIX,
    points: COUNT_ONLY,
    duration: windowSeconds,
  });
  // Our own sweep rather than the library's, whose timer cannot be stopped when the server closes.
  const sweep = setInterval(() => {
    executeRaw(db, `DELETE FROM ${TABLE} WHERE expire < $1`, [Date.now() - KEEP_ENDED_MS]).catch(() => {});
  }, CLEAN_EVERY_MS);
  sweep.unref();
  return new SharedRateLimitStore(counters, {
    windowSeconds,
    storeName: 'postgresql',
    logger,
    close: async () => clearInterval(sweep),
  });
}

async function openRedisStore(url: string, windowSeconds: number, logger: Pick<Logger, 'warn'>): Promise<RateLimitStore> {
  const redis = new Redis(url, {
    // Fail a count at once while disconnected (it is then made in memory) instead of queueing it.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_FIRST_CONNECT_MS,
    // Keep reconnecting, at most every 2 s, for as long as the server runs.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  const counters = new RateLimiterRedis({
    storeClient: redis,
    rejectIfRedisNotReady: true,
    keyPrefix: KEY_PREFIX,
    points: COUNT_ONLY,
    duration: windowSeconds,
  });
  const store = new SharedRateLimitStore(counters, {
    windowSeconds,
    storeName: 'redis',
    logger,
    close: async () => {
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  });
  // Unheard, a connection error would be printed by ioredis on every reconnection attempt.
  redis.on('error', (error) => store.warnUnreachable(error));
  await waitForReady(redis, REDIS_FIRST_CONNECT_MS);
  return store;
}

function waitForReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}
