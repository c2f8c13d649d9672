import type { Module, ModuleDeps } from '../module.js';
import { partRoutes } from './routes.js';
import { Part } from './schema.js';
import { PartService } from './service.js';

/** Parts of the product structure: numbered items with their attributes. */
export function partsModule(deps: ModuleDeps): Module {
  const parts = new PartService(deps.db);
  return { name: 'parts', prefix: '/api/v1/parts', schemas: [Part], routes: (app) => partRoutes(app, { parts }) };
}
