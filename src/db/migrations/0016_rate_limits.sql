-- Rate-limit counters shared by every API process (when REDIS_URL is not set). One row per caller
-- and window: `key` names the caller ('stowage:key:<id>', 'stowage:org:<id>', 'stowage:ip:<addr>'),
-- `points` the requests counted in the window, `expire` its end in epoch milliseconds. The shape is
-- the one rate-limiter-flexible's RateLimiterPostgres reads and writes (one upsert per count); rows
-- an hour past their end are deleted by it every five minutes.
-- UNLOGGED: the counters are worth nothing after a crash, so they cost no WAL; a standby has none
-- and, after a failover, windows start afresh.
CREATE UNLOGGED TABLE rate_limits (
  key     varchar(255) PRIMARY KEY,
  points  integer NOT NULL DEFAULT 0,
  expire  bigint
);
