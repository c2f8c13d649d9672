import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import { deliveriesRepo } from './repo.js';

/** What a batch of attempts showed of their endpoints. */
export interface EndpointOutcomes {
  answered: Set<string>;
  failed: Set<string>;
  /** Answered 410 Gone: the receiver says the endpoint is no more. */
  gone: Set<string>;
}

export const GONE_REASON = 'the endpoint answered 410 Gone';

/**
 * Keeps each endpoint's `failing_since` (set by a failure, cleared by any success) and disables an
 * endpoint that answered 410 or has failed for `disableAfterSeconds`; what a disabled endpoint still
 * had pending fails with the reason, to be recovered once someone enables it again.
 */
export async function recordEndpointOutcomes(db: Db, outcomes: EndpointOutcomes, disableAfterSeconds: number): Promise<string[]> {
  const failed = [...outcomes.failed].filter((id) => !outcomes.answered.has(id));
  const disabled: { id: string; reason: string }[] = [];
  if (outcomes.gone.size) {
    const { rows } = await sql<{ id: string }>`
      UPDATE webhooks SET enabled = false, disabled_reason = ${GONE_REASON}, updated_at = now()
      WHERE id = ANY(${[...outcomes.gone]}::uuid[]) AND enabled RETURNING id`.execute(db);
    disabled.push(...rows.map((r) => ({ id: r.id, reason: GONE_REASON })));
  }
  if (failed.length) {
    const { rows } = await sql<{ id: string; reason: string }>`
      UPDATE webhooks
      SET failing_since = coalesce(failing_since, now()),
          enabled = enabled AND NOT coalesce(failing_since < now() - make_interval(secs => ${disableAfterSeconds}), false),
          disabled_reason = CASE WHEN enabled AND failing_since < now() - make_interval(secs => ${disableAfterSeconds})
            THEN 'every attempt has failed since ' || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            ELSE disabled_reason END,
          updated_at = now()
      WHERE id = ANY(${failed}::uuid[]) AND (failing_since IS NULL OR enabled AND failing_since < now() - make_interval(secs => ${disableAfterSeconds}))
      RETURNING id, CASE WHEN NOT enabled THEN disabled_reason END AS reason`.execute(db);
    disabled.push(...rows.filter((r) => r.reason !== null));
  }
  if (outcomes.answered.size) {
    await sql`UPDATE webhooks SET failing_since = NULL, updated_at = now()
      WHERE id = ANY(${[...outcomes.answered]}::uuid[]) AND failing_since IS NOT NULL`.execute(db);
  }
  for (const { id, reason } of disabled) await deliveriesRepo.failPending(db, id, `endpoint disabled: ${reason}`);
  return disabled.map((d) => d.id);
}
