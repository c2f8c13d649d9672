import type { Module, ModuleDeps } from '../module.js';
import { previewJob } from './preview-job.js';
import { requestPreviews } from './request.js';
import { previewRoutes } from './routes.js';
import { PreviewService } from './service.js';

/** GLB previews of CAD uploads: started when an upload is confirmed, made by the preview job. */
export function previewsModule(deps: ModuleDeps): Module {
  const previews = new PreviewService(deps);
  return {
    name: 'previews',
    prefix: '/api/v1/parts',
    routes: (app) => previewRoutes(app, { previews, publicUrl: deps.config.publicUrl }),
    jobs: [previewJob],
    on: { uploadsConfirmed: async (t, uploads) => void (await requestPreviews(t, uploads)) },
  };
}
