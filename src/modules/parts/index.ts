import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../../blobs/blob-store.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { JobQueue } from '../../jobs/queue.js';
import { StreamedUploads } from '../uploads/streamed.js';
import { datasetRoutes } from '../datasets/routes.js';
import { DatasetService } from '../datasets/service.js';
import { datasetUploadRoutes } from '../datasets/upload-routes.js';
import { partRoutes } from './routes.js';
import { PartService } from './service.js';
import { revisionRoutes } from '../revisions/routes.js';
import { RevisionService } from '../revisions/service.js';

export { DatasetLink } from '../datasets/schema.js';
export { PartRevision } from '../revisions/schema.js';
export { Part } from './schema.js';

/** Parts, revisions and their dataset links (reference 001), wired from the app's dependencies. */
export async function partsModule(app: FastifyInstance, opts: { db: Db; blobs: BlobStore; queue: JobQueue; config: Config }) {
  const { db, blobs, queue, config } = opts;
  const datasets = new DatasetService(db);
  await app.register(partRoutes, { parts: new PartService(db) });
  await app.register(revisionRoutes, { revisions: new RevisionService(db) });
  await app.register(datasetRoutes, { datasets });
  await app.register(datasetUploadRoutes, {
    datasets,
    streamed: new StreamedUploads(db, blobs, queue, config),
    maxBytes: config.limits.simpleUploadBytes,
  });
}
