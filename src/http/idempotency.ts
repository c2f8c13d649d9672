import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { badRequest, conflict } from './errors.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const KEY_RE = /^[\x21-\x7e]{1,255}$/;
const RETENTION_HOURS = 24;
// An in-flight record older than this belongs to a process that died mid-request; a retry takes it over.
const ABANDONED_AFTER_SECONDS = 300;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { key: string; replayed: boolean } | null;
  }
}

/**
 * Idempotency-Key on writes: the first answer is stored per (org, key) for 24 h and replayed for the
 * same request; the same key with another method, path or body is a 409.
 */
export function installIdempotency(app: FastifyInstance, db: Db): void {
  app.decorateRequest('idempotency', null);

  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (key === undefined || !request.principal || !WRITE_METHODS.has(request.method)) return;
    if (typeof key !== 'string' || !KEY_RE.test(key)) {
      throw badRequest('Idempotency-Key must be 1–255 visible ASCII characters');
    }
    const orgId = request.principal.orgId;
    const fingerprint = fingerprintOf(request);
    const claimed = await claim(db, orgId, key, request, fingerprint);
    if (claimed) {
      request.idempotency = { key, replayed: false };
      return;
    }
    const existing = await db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('key', '=', key)
      .executeTakeFirst();
    // Released between our two statements (its first attempt failed with a 5xx): the client simply retries.
    if (!existing) throw conflict('a request with this Idempotency-Key just finished; retry', null, true);
    if (existing.body_hash !== fingerprint) {
      throw conflict('this Idempotency-Key was used with a different request', {
        method: existing.method,
        path: existing.path,
      });
    }
    if (existing.state === 'in_flight') {
      throw conflict('a request with this Idempotency-Key is still in progress; retry shortly', null, true);
    }
    request.idempotency = { key, replayed: true };
    reply.code(existing.response_status ?? 200).header('idempotent-replayed', 'true');
    if (existing.response_type) reply.type(existing.response_type);
    return reply.send(existing.response_body ?? '');
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const record = request.idempotency;
    if (!record || record.replayed || !request.principal) return payload;
    const where = { org_id: request.principal.orgId, key: record.key };
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      // A failure worth retrying is not stored: the retry runs the request again.
      await db.deleteFrom('idempotency_keys').where('org_id', '=', where.org_id).where('key', '=', where.key).execute();
      return payload;
    }
    await db
      .updateTable('idempotency_keys')
      .set({
        state: 'done',
        response_status: reply.statusCode,
        response_body: payload,
        response_type: String(reply.getHeader('content-type') ?? 'application/json'),
      })
      .where('org_id', '=', where.org_id)
      .where('key', '=', where.key)
      .execute();
    return payload;
  });
}

/** Inserts the in-flight record, replacing an expired or abandoned one; false when another holds the key. */
async function claim(db: Db, orgId: string, key: string, request: FastifyRequest, fingerprint: string): Promise<boolean> {
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({
      org_id: orgId,
      key,
      method: request.method,
      path: request.url,
      body_hash: fingerprint,
      state: 'in_flight',
      expires_at: sql<Date>`now() + make_interval(hours => ${RETENTION_HOURS})`,
    })
    .onConflict((oc) =>
      oc.columns(['org_id', 'key']).doUpdateSet({
        method: request.method,
        path: request.url,
        body_hash: fingerprint,
        state: 'in_flight',
        response_status: null,
        response_body: null,
        response_type: null,
        created_at: sql`now()`,
        expires_at: sql<Date>`now() + make_interval(hours => ${RETENTION_HOURS})`,
      }).where((eb) =>
        eb.or([
          eb('idempotency_keys.expires_at', '<', sql<Date>`now()`),
          eb.and([
            eb('idempotency_keys.state', '=', 'in_flight'),
            eb('idempotency_keys.created_at', '<', sql<Date>`now() - make_interval(secs => ${ABANDONED_AFTER_SECONDS})`),
          ]),
        ]),
      ),
    )
    .returning('key')
    .executeTakeFirst();
  return inserted !== undefined;
}

function fingerprintOf(request: FastifyRequest): string {
  return createHash('sha256')
    .update(request.method)
    .update('\0')
    .update(request.url)
    .update('\0')
    // A streamed body is not read yet: its media type and length stand for it. Not the multipart
    // boundary: a client retrying the same file builds a new form, with a new boundary of the same length.
    .update(request.body === undefined ? `${mediaTypeOf(request)}\0${request.headers['content-length'] ?? ''}` : canonicalJson(request.body))
    .digest('hex');
}

const mediaTypeOf = (request: FastifyRequest) => (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

/** JSON with sorted keys, so the same body sent with its keys in another order is the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
