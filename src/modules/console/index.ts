import type { Module, ModuleDeps } from '../module.js';
import { consoleBundleDir } from './bundle.js';
import { consolePolicy } from './content-security-policy.js';
import { consoleRoutes } from './routes.js';

/** The web console (console/, built into dist/console): static files served at /console, public, outside the API. */
export function consoleModule(deps: ModuleDeps): Module {
  const dir = consoleBundleDir(import.meta.dirname);
  const policy = consolePolicy(deps.config);
  return { name: 'console', routes: (app) => consoleRoutes(app, { dir, policy }) };
}
