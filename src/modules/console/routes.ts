import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../errors.js';
import { bundleIsBuilt, inlineStyleHashes } from './bundle.js';

/** esbuild names every file under assets/ by its content hash: a changed file is a new URL. */
const HASHED = /^\/?assets\//;

const notBuilt = () =>
  new AppError(503, 'unavailable', 'the web console is not built: run `npm run build` (it writes dist/console), then reload this page');

/**
 * The web console's static files at /console: `/console` and `/console/` answer index.html, the rest
 * comes from the bundle's folder. None of it is part of the API, so none of it is in the OpenAPI
 * document, and every answer carries the console's security headers.
 */
export async function consoleRoutes(app: FastifyInstance, opts: { dir: string; policy: (inlineStyleHashes: readonly string[]) => string }) {
  app.addHook('onRequest', async (_request, reply) => {
    reply.headers({
      'content-security-policy': opts.policy(inlineStyleHashes(opts.dir)),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
    if (!bundleIsBuilt(opts.dir)) throw notBuilt();
  });

  await app.register(fastifyStatic, {
    root: opts.dir,
    prefix: '/console/',
    index: false,
    // The folder may not exist yet: every request says so with a 503 instead.
    suppressWarning: true,
    cacheControl: false,
    setHeaders: (reply, file) => cacheFor(reply, file.slice(opts.dir.length)),
  });

  // Answered for `/console/` too: the app ignores trailing slashes.
  app.get('/console', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'));
}

/** Hashed assets never change; the page itself is checked on every load, so a new build shows at once. */
function cacheFor(reply: FastifyReply, file: string) {
  reply.header('cache-control', HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
}
