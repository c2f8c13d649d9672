import type { Module, ModuleDeps } from '../module.js';
import { folderRoutes } from './routes.js';
import { Folder } from './schema.js';
import { FolderService } from './service.js';

/** Folders that files live in: nested, named uniquely among siblings. */
export function foldersModule(deps: ModuleDeps): Module {
  const folders = new FolderService(deps.db);
  return { name: 'folders', prefix: '/api/v1/folders', schemas: [Folder], routes: (app) => folderRoutes(app, { folders }) };
}
