import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per process (or per test app), so instances never share counters. */
export function createMetrics(options: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'stowage_http_request_duration_seconds',
      help: 'HTTP request duration by route and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    jobOutcomes: new Counter({
      name: 'stowage_jobs_total',
      help: 'Finished job attempts by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    uploadVerdicts: new Counter({
      name: 'stowage_upload_verdicts_total',
      help: 'Confirm verdicts by result (confirmed or the failure reason).',
      labelNames: ['result'],
      registers: [registry],
    }),
    previewOutcomes: new Counter({
      name: 'stowage_previews_total',
      help: 'Preview verdicts by result (ok or the failure reason).',
      labelNames: ['result'],
      registers: [registry],
    }),
    readingOutcomes: new Counter({
      name: 'stowage_readings_total',
      help: 'Reading verdicts by result (ready or the failure reason).',
      labelNames: ['result'],
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: 'stowage_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry (another attempt is scheduled) or dead (dead-lettered).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    previewSeconds: new Histogram({
      name: 'stowage_preview_conversion_seconds',
      help: 'Time of successful CAD to GLB conversions.',
      buckets: [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    sweptTotal: new Counter({
      name: 'stowage_sweeper_removed_total',
      help: 'What the sweeper removed or expired, by kind.',
      labelNames: ['what'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
