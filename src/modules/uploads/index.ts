import type { Module, ModuleDeps } from '../module.js';
import { confirmJob } from './confirm-job.js';
import { MultipartUploads } from './multipart.js';
import { multipartRoutes } from './multipart-routes.js';
import { uploadsRoutes } from './routes.js';
import { Upload } from './schema.js';
import { UploadsService } from './service.js';
import { StreamedUploads } from './streamed.js';
import { streamedUploadRoutes } from './streamed-routes.js';
import { UploadTrash } from './trash.js';
import { uploadTrashRoutes } from './trash-routes.js';

/** Uploads (data sources): presigned, streamed and multipart, checked by the confirm job. */
export function uploadsModule(deps: ModuleDeps): Module {
  const uploads = new UploadsService(deps);
  const { publicUrl, limits } = deps.config;
  return {
    name: 'uploads',
    prefix: '/api/v1/uploads',
    schemas: [Upload],
    routes: async (app) => {
      await app.register(uploadsRoutes, { uploads, publicUrl });
      await app.register(multipartRoutes, { multipart: new MultipartUploads(deps, uploads), publicUrl });
      await app.register(streamedUploadRoutes, { streamed: new StreamedUploads(deps), maxBytes: limits.simpleUploadBytes });
      await app.register(uploadTrashRoutes, { trash: new UploadTrash(deps) });
    },
    jobs: [confirmJob],
  };
}
