import type { BackgroundTask } from '../../jobs/job-kind.js';
import type { ModuleDeps } from '../module.js';
import { WebhookDispatcher } from './dispatcher.js';

/** The name the outbox triggers notify the workers' wake channel with (migration 0015). */
export const DISPATCH_KIND = 'webhook-delivery';

/** Each worker process runs one dispatcher. */
export const dispatchTask: BackgroundTask<ModuleDeps> = {
  kind: DISPATCH_KIND,
  start(deps) {
    const dispatcher = new WebhookDispatcher(deps);
    dispatcher.start();
    return dispatcher;
  },
};
