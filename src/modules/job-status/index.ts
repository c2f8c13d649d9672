import type { Module, ModuleDeps } from '../module.js';
import { jobStatusRoutes } from './routes.js';

/** Jobs as clients poll them, whatever their kind. */
export function jobStatusModule(deps: ModuleDeps): Module {
  return { name: 'job-status', prefix: '/api/v1/jobs', routes: (app) => jobStatusRoutes(app, { db: deps.db }) };
}
