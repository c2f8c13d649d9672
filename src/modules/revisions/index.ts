import type { Module, ModuleDeps } from '../module.js';
import { revisionRoutes } from './routes.js';
import { PartRevision } from './schema.js';
import { RevisionService } from './service.js';

/** Revisions of a part: its states over time, each with its own datasets. */
export function revisionsModule(deps: ModuleDeps): Module {
  const revisions = new RevisionService(deps.db);
  return {
    name: 'revisions',
    prefix: '/api/v1/parts/:part_id/revisions',
    schemas: [PartRevision],
    routes: (app) => revisionRoutes(app, { revisions }),
  };
}
