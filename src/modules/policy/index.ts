import type { Module, ModuleDeps } from '../module.js';
import { policyRoutes } from './routes.js';
import { ContentPolicy } from './schema.js';
import { PolicyService } from './service.js';

/** The content policy of each org: allowed and refused content types, the largest upload, a storage quota. */
export function policyModule(deps: ModuleDeps): Module {
  const policy = new PolicyService(deps.db, deps.config);
  return { name: 'policy', prefix: '/api/v1/policy', schemas: [ContentPolicy], routes: (app) => policyRoutes(app, { policy }) };
}
