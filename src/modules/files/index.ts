import type { Module, ModuleDeps } from '../module.js';
import { StreamedUploads } from '../uploads/streamed.js';
import { fileContentRoutes } from './content-routes.js';
import { fileRoutes } from './routes.js';
import { FileEntity } from './schema.js';
import { FilesService } from './service.js';

/** Files: versioned documents whose versions form a chain of content ids. */
export function filesModule(deps: ModuleDeps): Module {
  const files = new FilesService(deps, new StreamedUploads(deps));
  return {
    name: 'files',
    prefix: '/api/v1/files',
    schemas: [FileEntity],
    on: { uploadsConfirmed: (t, uploads) => files.fromConfirmedUploads(t, uploads) },
    routes: async (app) => {
      await app.register(fileRoutes, { files, publicUrl: deps.config.publicUrl });
      await app.register(fileContentRoutes, { files, maxBytes: deps.config.limits.simpleUploadBytes });
    },
  };
}
