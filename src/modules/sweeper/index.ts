import type { Module } from '../module.js';
import { sweepJob } from './sweep-job.js';

/** Keeps rows and storage consistent on a schedule: expiries, dead blobs, orphans, old idempotency records. */
export function sweeperModule(): Module {
  return { name: 'sweeper', periodic: [sweepJob] };
}
