/** What one attempt's outcome means for its delivery and, through it, for its endpoint. */
export type Verdict = { status: 'succeeded' } | { status: 'pending'; nextAttemptAt: Date } | { status: 'failed' };

/** Retry-After beyond this is taken as this: a receiver cannot park a delivery for longer than a day. */
const MAX_RETRY_AFTER_SECONDS = 24 * 3600;
/** ±10 %: receivers that failed together are not retried in one burst. */
const JITTER = 0.1;

/**
 * After attempt number `attempts` (1 for the first) failed: the next one waits the schedule's next
 * delay, with jitter, or longer if the receiver asked (Retry-After); past the schedule, dead-lettered.
 */
export function afterFailure(
  schedule: readonly number[],
  attempts: number,
  retryAfterSeconds: number | null,
  now = Date.now(),
  random = Math.random,
): Verdict {
  if (attempts >= schedule.length) return { status: 'failed' };
  const planned = schedule[attempts] * (1 + (random() * 2 - 1) * JITTER);
  const asked = retryAfterSeconds === null ? 0 : Math.min(retryAfterSeconds, MAX_RETRY_AFTER_SECONDS);
  return { status: 'pending', nextAttemptAt: new Date(now + Math.max(planned, asked) * 1000) };
}
