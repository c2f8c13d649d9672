import type { Module, ModuleDeps } from '../module.js';
import { StreamedUploads } from '../uploads/streamed.js';
import { FileContent } from './content.js';
import { fileContentRoutes } from './content-routes.js';
import { filesFromConfirmedUploads } from './from-uploads.js';
import { fileRoutes } from './routes.js';
import { FileEntity } from './schema.js';
import { FilesService } from './service.js';
import { FileTrash } from './trash.js';

/** Files: versioned documents whose versions form a chain of content ids, with folders and a trash. */
export function filesModule(deps: ModuleDeps): Module {
  const files = new FilesService(deps);
  const content = new FileContent(deps, new StreamedUploads(deps));
  const trash = new FileTrash(deps);
  return {
    name: 'files',
    prefix: '/api/v1/files',
    schemas: [FileEntity],
    on: { uploadsConfirmed: filesFromConfirmedUploads },
    routes: async (app) => {
      await app.register(fileRoutes, { files, content, trash, publicUrl: deps.config.publicUrl });
      await app.register(fileContentRoutes, { content, maxBytes: deps.config.limits.simpleUploadBytes });
    },
  };
}
