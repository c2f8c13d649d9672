import { sql } from 'kysely';
import type { PeriodicJob } from '../../jobs/job-kind.js';
import type { ModuleDeps } from '../module.js';

/** Events removed per run: bounded, so one run never holds locks on a long backlog. */
const BATCH = 10_000;

/**
 * Removes events past the retention (their deliveries go with them), except those with a delivery
 * still pending: a redelivered old event stays until it is sent.
 */
export const retentionJob: PeriodicJob<ModuleDeps> = {
  kind: 'webhook-retention',
  cron: () => '17 * * * *',
  async run(deps) {
    const { numDeletedRows } = await deps.db
      .deleteFrom('webhook_events')
      .where(
        'id',
        'in',
        deps.db
          .selectFrom('webhook_events as e')
          .select('e.id')
          .where('e.created_at', '<', sql<Date>`now() - make_interval(secs => ${deps.config.webhooks.retentionSeconds})`)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('webhook_deliveries as d')
                  .select(sql`1`.as('one'))
                  .whereRef('d.event_id', '=', 'e.id')
                  .where('d.status', '=', 'pending'),
              ),
            ),
          )
          .orderBy('e.created_at')
          .limit(BATCH),
      )
      .executeTakeFirst();
    return { removed: Number(numDeletedRows) };
  },
};
