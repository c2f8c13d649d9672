import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { BlobStore } from './blobs/blob-store.js';
import { localBlobRoutes } from './blobs/local-routes.js';
import { LocalBlobStore } from './blobs/local.js';
import type { BlobUrlSigner } from './blobs/signed-url.js';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import { installAuth } from './http/auth.js';
import { installCors } from './http/cors.js';
import { answerClientError, answerFrameworkError, installErrorHandling } from './http/error-handler.js';
import { installBodyDepthGuard, validatorsByPart } from './http/validators.js';
import { installIdempotency } from './http/idempotency.js';
import { installRateLimits } from './http/rate-limit-hook.js';
import { newRequestId } from './http/request-id.js';
import { trackRunningHandlers } from './http/shutdown.js';
import { closeIdleConnections, serverTimeoutOptions } from './http/timeouts.js';
import { ErrorEnvelope } from './http/schemas.js';
import type { JobQueue } from './jobs/queue.js';
import type { Metrics } from './metrics.js';
import { healthRoutes } from './modules/health/routes.js';
import { keysRoutes } from './modules/keys/routes.js';
import { previewRoutes } from './modules/previews/routes.js';
import { PreviewService } from './modules/previews/service.js';
import { DatasetLink, Part, PartRevision, partsModule } from './modules/parts/index.js';
import { KeysService } from './modules/keys/service.js';
import { uploadsRoutes } from './modules/uploads/routes.js';
import { ENVELOPE_BYTES } from './modules/uploads/form-file.js';
import { Upload } from './modules/uploads/schema.js';
import { UploadsService } from './modules/uploads/service.js';
import { MultipartUploads } from './modules/uploads/multipart.js';
import { multipartRoutes } from './modules/uploads/multipart-routes.js';
import { StreamedUploads } from './modules/uploads/streamed.js';
import { streamedUploadRoutes } from './modules/uploads/streamed-routes.js';

export interface AppDeps {
  config: Config;
  db: Db;
  blobs: BlobStore;
  signer: BlobUrlSigner;
  queue: JobQueue;
  metrics: Metrics;
  logger: Logger;
}

/** The HTTP API as a Fastify instance; everything it touches comes in through `deps`. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db, blobs, queue, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: newRequestId,
    // Errors the router and Node's HTTP parser raise before any hook runs still get the envelope.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    // Fastify's own per-request lines are replaced by one debug line in onResponse.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { removeAdditional: false, useDefaults: true, allErrors: true } },
    schemaController: { compilersFactory: validatorsByPart() },
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    http: serverTimeoutOptions(config.http),
  });
  closeIdleConnections(app.server, config.http);
  trackRunningHandlers(app);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  installErrorHandling(app);
  installBodyDepthGuard(app);
  // Before auth: a preflight carries no API key and must be answered all the same.
  await installCors(app, config.corsOrigins);
  const keys = new KeysService(db);
  installAuth(app, (presented) => keys.authenticate(presented));
  installRateLimits(app, config.rateLimit);
  // A retried form is read whole to compare its bytes: no further than the largest form we take.
  installIdempotency(app, db, { maxStreamedBytes: config.limits.simpleUploadBytes + ENVELOPE_BYTES });

  app.addSchema(ErrorEnvelope);
  app.addSchema(Upload);
  app.addSchema(Part);
  app.addSchema(PartRevision);
  app.addSchema(DatasetLink);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stowage API',
        version: '1',
        description: 'File ingestion: presigned uploads, confirm jobs, downloads. Errors use the envelope schema.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { db, blobs, registry: metrics.registry });
  await app.register(keysRoutes, { keys });
  const uploads = new UploadsService(db, blobs, queue, config);
  await app.register(uploadsRoutes, { uploads, publicUrl: config.publicUrl });
  await app.register(multipartRoutes, { multipart: new MultipartUploads(db, blobs, uploads, config), publicUrl: config.publicUrl });
  await app.register(streamedUploadRoutes, {
    streamed: new StreamedUploads(db, blobs, queue, config),
    maxBytes: config.limits.simpleUploadBytes,
  });
  await app.register(partsModule, { db, blobs, queue, config });
  await app.register(previewRoutes, { previews: new PreviewService(db, blobs, queue, config), publicUrl: config.publicUrl });
  if (blobs instanceof LocalBlobStore) await app.register(localBlobRoutes, { store: blobs, signer: deps.signer, admit: (grant, moment) => uploads.admitBytes(grant.key, moment) });
  return app;
}
