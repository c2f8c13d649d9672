import type { Module, ModuleDeps } from '../module.js';
import { keysRoutes } from './routes.js';
import { KeysService } from './service.js';

/** API keys of an org; the same service authenticates every request, so a revocation takes hold at once. */
export function keysModule(deps: ModuleDeps): Module {
  const keys = new KeysService(deps.db);
  return {
    name: 'keys',
    prefix: '/api/v1/keys',
    routes: (app) => keysRoutes(app, { keys }),
    authenticate: (presented) => keys.authenticate(presented),
  };
}
