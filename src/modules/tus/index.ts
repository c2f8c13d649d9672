import type { Module, ModuleDeps } from '../module.js';
import { MultipartUploads } from '../uploads/multipart.js';
import { UploadsService } from '../uploads/service.js';
import { TUS_PATH, tusServer } from './protocol.js';
import { tusRoutes } from './routes.js';
import { TusUploads } from './service.js';

/** Resumable uploads through the tus protocol (Uppy, tus-js-client): multipart uploads written by the server. */
export function tusModule(deps: ModuleDeps): Module {
  const uploads = new UploadsService(deps);
  const tus = new TusUploads(deps, uploads, new MultipartUploads(deps, uploads));
  const server = tusServer(tus, deps.config.limits.multipartBytes);
  return {
    name: 'tus',
    prefix: TUS_PATH,
    routes: async (app) => {
      await app.register(tusRoutes, { server, tus, publicUrl: deps.config.publicUrl });
    },
  };
}
