import { StreamedUploads } from '../uploads/streamed.js';
import type { Module, ModuleDeps } from '../module.js';
import { datasetRoutes } from './routes.js';
import { DatasetLink } from './schema.js';
import { DatasetService } from './service.js';
import { datasetUploadRoutes } from './upload-routes.js';

/** Dataset links: uploads attached to a revision, exactly one of the active ones primary. */
export function datasetsModule(deps: ModuleDeps): Module {
  const datasets = new DatasetService(deps.db);
  return {
    name: 'datasets',
    prefix: '/api/v1/parts/:part_id/revisions/:revision_id/datasets',
    schemas: [DatasetLink],
    routes: async (app) => {
      await app.register(datasetRoutes, { datasets });
      await app.register(datasetUploadRoutes, {
        datasets,
        streamed: new StreamedUploads(deps),
        maxBytes: deps.config.limits.simpleUploadBytes,
      });
    },
  };
}
