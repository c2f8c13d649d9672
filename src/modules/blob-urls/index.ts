import type { Module, ModuleDeps } from '../module.js';
import { admitBlobBytes } from '../uploads/admit.js';

/**
 * The routes a blob driver needs the server to answer (the local driver's signed URLs), each PUT
 * admitted only while its upload still takes bytes. Nothing for drivers whose URLs point at storage.
 */
export function blobUrlsModule(deps: ModuleDeps): Module {
  const routes = deps.blobs.routes?.({ admit: (grant, moment) => admitBlobBytes(deps.db, grant.key, moment) });
  return { name: 'blob-urls', routes };
}
