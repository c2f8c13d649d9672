import type { Module, ModuleDeps } from '../module.js';
import { healthRoutes } from './routes.js';

/** Liveness, readiness and metrics for whoever runs the service; public, no API key. */
export function healthModule(deps: ModuleDeps): Module {
  return {
    name: 'health',
    routes: (app) => healthRoutes(app, { db: deps.db, blobs: deps.blobs, registry: deps.metrics.registry }),
  };
}
