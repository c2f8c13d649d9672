import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { installAuth } from './http/auth.js';
import { installCors } from './http/cors.js';
import { answerClientError, answerFrameworkError, installErrorHandling } from './http/error-handler.js';
import { installBodyDepthGuard, validatorsByPart } from './http/validators.js';
import { installIdempotency } from './http/idempotency.js';
import { installFailedAuthLimits, installRateLimits } from './http/rate-limit-hook.js';
import { openRateLimitStore } from './http/rate-limit-stores.js';
import { newRequestId } from './http/request-id.js';
import { trackRunningHandlers } from './http/shutdown.js';
import { closeIdleConnections, serverTimeoutOptions } from './http/timeouts.js';
import { ErrorEnvelope } from './http/schemas.js';
import type { Composition } from './modules.js';
import { ENVELOPE_BYTES } from './modules/uploads/form-file.js';

/** The HTTP API as a Fastify instance: the plumbing every route shares, then each module's routes. */
export async function buildApp({ deps, modules }: Pick<Composition, 'deps' | 'modules'>): Promise<FastifyInstance> {
  const { config, db, metrics } = deps;
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
  const authenticate = modules.find((m) => m.authenticate)?.authenticate;
  if (!authenticate) throw new Error('no module authenticates API keys');
  const rateLimits = await openRateLimitStore(config, db, deps.logger);
  app.addHook('onClose', () => rateLimits.close());
  installFailedAuthLimits(app, config.rateLimit, rateLimits);
  installAuth(app, authenticate);
  installRateLimits(app, config.rateLimit, Date.now, rateLimits);
  // A retried form is read whole to compare its bytes: no further than the largest form we take.
  installIdempotency(app, db, { maxStreamedBytes: config.limits.simpleUploadBytes + ENVELOPE_BYTES });

  app.addSchema(ErrorEnvelope);
  // At the root, not in the modules' own contexts: the OpenAPI document is built from the root's schemas.
  for (const schema of modules.flatMap((m) => m.schemas ?? [])) app.addSchema(schema);
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

  for (const module of modules) {
    if (module.routes) await app.register(module.routes, { prefix: module.prefix ?? '' });
  }
  return app;
}
