import type { FastifyInstance, FastifyRequest } from 'fastify';
import { grants, type Scope } from '../access/scopes.js';
import type { Principal } from '../access/caller.js';
import { insufficientScope, invalidApiKey } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public (health, docs, signed blob URLs). */
    scope?: Scope;
  }
}

/** Finds the caller a presented key stands for; null for an unknown, malformed or revoked key. */
export type Authenticate = (presentedKey: string) => Promise<Principal | null>;

/** Authenticates `X-API-Key` / `Authorization: Bearer` on every route that names a scope. */
export function installAuth(app: FastifyInstance, authenticate: Authenticate): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const needed = request.routeOptions.config?.scope;
    if (!needed) return;
    const presented = presentedKey(request);
    if (!presented) throw invalidApiKey('an API key is required: send X-API-Key or Authorization: Bearer');
    const principal = await authenticate(presented);
    if (!principal) throw invalidApiKey();
    request.principal = principal;
    if (!grants(principal.scopes, needed)) throw insufficientScope(needed);
  });
}

function presentedKey(request: FastifyRequest): string | null {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.trim()) return header.trim();
  const authorization = request.headers.authorization;
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match ? match[1] : null;
}

/** The authenticated caller of a scoped route; the auth hook guarantees it is set. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw invalidApiKey();
  return request.principal;
}
