import type { Module, ModuleDeps } from '../module.js';
import { processJob } from './process-job.js';
import { requestReadings } from './request.js';
import { readingRoutes } from './routes.js';
import { ReadingService } from './service.js';

/** Readings of confirmed uploads: started when an upload is confirmed, made by the processing job. */
export function readingsModule(deps: ModuleDeps): Module {
  const readings = new ReadingService(deps);
  return {
    name: 'readings',
    prefix: '/api/v1',
    routes: (app) => readingRoutes(app, { readings, db: deps.db }),
    jobs: [processJob],
    on: { uploadsConfirmed: async (t, uploads) => void (await requestReadings(t, uploads)) },
  };
}
