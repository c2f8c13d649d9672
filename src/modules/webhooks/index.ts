import type { Module, ModuleDeps } from '../module.js';
import { dispatchTask } from './dispatch-task.js';
import { retentionJob } from './retention-job.js';
import { webhookRoutes } from './routes.js';
import { Delivery, Webhook } from './schema.js';
import { WebhooksService } from './service.js';

/**
 * Webhooks: endpoints per org, and the dispatcher that sends the events the outbox triggers write
 * (migration 0015) in the transaction of each change.
 */
export function webhooksModule(deps: ModuleDeps): Module {
  return {
    name: 'webhooks',
    prefix: '/api/v1/webhooks',
    schemas: [Webhook, Delivery],
    routes: async (app) => {
      await app.register(webhookRoutes, { webhooks: new WebhooksService(deps) });
    },
    background: [dispatchTask],
    periodic: [retentionJob],
  };
}
