import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { HEARTBEAT_SECONDS, ProcessLease } from '../db/process-lease.js';
import { AppError, badRequest, conflict } from '../errors.js';
import { StreamedBodyDigest } from './streamed-body-digest.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const KEY_RE = /^[\x21-\x7e]{1,255}$/;
const RETENTION_HOURS = 24;
// An in-flight record that names no process (written before records had owners) is abandoned after this.
const ABANDONED_AFTER_SECONDS = 300;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: IdempotentRequest | null;
    /** The running digest of a form body, taken for requests with an Idempotency-Key. */
    streamedBody: StreamedBodyDigest | null;
  }
  interface FastifyContextConfig {
    /**
     * The field of this route's answer that holds a secret shown once (an API key's). The answer is
     * stored without it and a replay is refused: the secret is never kept, so never shown again.
     */
    secretField?: string;
    /** The route takes its body as raw bytes (a stream): a retry is told apart by their digest, as a form's. */
    rawBody?: boolean;
  }
}

interface IdempotentRequest {
  key: string;
  replayed: boolean;
  /** Of method, path and body; for a form, of method, path and media type, its body's digest added once read. */
  fingerprint: string;
}

export interface IdempotencyOptions {
  /** The most a form retried under a used key may carry: it is read whole to compare it with the first. */
  maxStreamedBytes: number;
}

/**
 * Idempotency-Key on writes: the first answer is stored per (org, key) for 24 h and replayed for the
 * same request; the same key with another method, path or body is a 409.
 *
 * A form (a streamed upload) is hashed as its bytes pass, boundary left out. Its record holds that
 * digest once the first request has read its whole body; a retry is read whole too, hashed and
 * discarded, and only then replayed (same bytes) or refused (other bytes).
 *
 * A record in flight names the process running it (its liveness lease, see process-lease): a retry
 * on any process of the cluster gets a retryable 409 while that process lives, and takes the record
 * over once its lease has expired (the process died mid-request), however long the request had run.
 */
export function installIdempotency(app: FastifyInstance, db: Db, { maxStreamedBytes }: IdempotencyOptions): void {
  app.decorateRequest('idempotency', null);
  app.decorateRequest('streamedBody', null);
  let lease: ProcessLease | null = null;
  const ownerId = () => {
    if (!lease) throw new Error('the liveness lease is not taken yet: the app is not ready');
    return lease.id;
  };
  app.addHook('onReady', async () => {
    lease = await ProcessLease.start(db, { onError: (error) => app.log.warn({ err: error }, 'liveness heartbeat failed') });
  });
  // After requests have drained: what still runs is cut off with the process, and a retry may take it over now.
  app.addHook('onClose', async () => lease?.stop());

  app.addHook('preParsing', async (request, _reply, payload) => {
    if (keyOf(request) !== undefined && (isForm(request) || request.routeOptions.config?.rawBody)) {
      request.streamedBody = new StreamedBodyDigest(payload, String(request.headers['content-type']));
    }
    return payload;
  });

  app.addHook('preHandler', async (request, reply) => {
    const key = keyOf(request);
    if (key === undefined) return;
    if (typeof key !== 'string' || !KEY_RE.test(key)) {
      throw unread(request, reply, badRequest('Idempotency-Key must be 1–255 visible ASCII characters'));
    }
    const orgId = request.principal!.orgId;
    const fingerprint = fingerprintOf(request);
    const claimed = await claim(db, orgId, key, request, fingerprint, ownerId());
    if (claimed) {
      request.idempotency = { key, replayed: false, fingerprint };
      return;
    }
    const existing = await db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('key', '=', key)
      .executeTakeFirst();
    // Released between our two statements (its first attempt failed with a 5xx): the client simply retries.
    if (!existing) throw unread(request, reply, inProgress('a request with this Idempotency-Key just finished; retry'));
    const [storedFingerprint, storedBodyDigest] = existing.body_hash.split('.');
    const otherRequest = () =>
      conflict('this Idempotency-Key was used with a different request', { method: existing.method, path: existing.path });
    if (storedFingerprint !== fingerprint) throw unread(request, reply, otherRequest());
    if (existing.state === 'in_flight') {
      throw unread(request, reply, inProgress('a request with this Idempotency-Key is still in progress; retry shortly'));
    }
    if (request.streamedBody) {
      // Read and hashed, never kept: the first request's answer stands for these bytes only if they are the same.
      const digest = await finishBody(request, reply, maxStreamedBytes);
      if (digest === null) throw unread(request, reply, badRequest('the request body broke off before its end'));
      if (digest !== storedBodyDigest) throw otherRequest();
    }
    if (existing.secret_withheld) {
      throw conflict(
        'the first request with this Idempotency-Key created this API key; its secret was shown once and is not kept. ' +
          'If it was lost, revoke this key and create another.',
        { api_key: JSON.parse(existing.response_body ?? 'null') },
      );
    }
    request.idempotency = { key, replayed: true, fingerprint };
    reply.code(existing.response_status ?? 200).header('idempotent-replayed', 'true');
    if (existing.response_type) reply.type(existing.response_type);
    return reply.send(existing.response_body ?? '');
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const record = request.idempotency;
    if (!record || record.replayed || !request.principal) return payload;
    const orgId = request.principal.orgId;
    // Ours only while we own it: a record taken over (our lease lapsed) is the other request's now.
    const ours = sql<boolean>`owner_id = ${ownerId()}`;
    const forget = () => db.deleteFrom('idempotency_keys').where('org_id', '=', orgId).where('key', '=', record.key).where(ours).execute();
    // A failure worth retrying is not stored: the retry runs the request again.
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await forget();
      return payload;
    }
    let fingerprint = record.fingerprint;
    if (request.streamedBody) {
      // A refusal before the whole form was read changed nothing: not stored, a retry simply runs again.
      if (!request.streamedBody.complete && reply.statusCode >= 400) {
        await forget();
        return payload;
      }
      const digest = await request.streamedBody.finish(maxStreamedBytes).catch(() => null);
      if (digest === null) {
        await forget();
        return payload;
      }
      fingerprint = `${fingerprint}.${digest}`;
    }
    const stored = storableAnswer(request, reply.statusCode, payload);
    await db
      .updateTable('idempotency_keys')
      .set({
        state: 'done',
        body_hash: fingerprint,
        response_status: reply.statusCode,
        response_body: stored.body,
        response_type: String(reply.getHeader('content-type') ?? 'application/json'),
        secret_withheld: stored.secretWithheld,
      })
      .where('org_id', '=', orgId)
      .where('key', '=', record.key)
      .where(ours)
      .execute();
    return payload;
  });
}

/** A retryable 409: another request with this key runs (or just ran); Retry-After says when to look again. */
const inProgress = (message: string) => new AppError(409, 'conflict', message, null, true, { 'retry-after': String(HEARTBEAT_SECONDS) });

/** The Idempotency-Key of a write by an authenticated caller; undefined when idempotency does not apply. */
function keyOf(request: FastifyRequest): string | string[] | undefined {
  if (!request.principal || !WRITE_METHODS.has(request.method)) return undefined;
  return request.headers['idempotency-key'];
}

const isForm = (request: FastifyRequest) => mediaTypeOf(request) === 'multipart/form-data';

/** The answer as it may be kept: a secret the route names is taken out, and a replay will be refused. */
function storableAnswer(request: FastifyRequest, status: number, payload: string): { body: string; secretWithheld: boolean } {
  const field = request.routeOptions.config?.secretField;
  if (!field || status >= 300) return { body: payload, secretWithheld: false };
  const { [field]: _secret, ...rest } = JSON.parse(payload) as Record<string, unknown>;
  return { body: JSON.stringify(rest), secretWithheld: true };
}

async function finishBody(request: FastifyRequest, reply: FastifyReply, maxBytes: number): Promise<string | null> {
  try {
    return await request.streamedBody!.finish(maxBytes);
  } catch (error) {
    throw unread(request, reply, error);
  }
}

/** An error answered before a form was read through: closing spares the client from sending the rest. */
function unread(request: FastifyRequest, reply: FastifyReply, error: unknown): unknown {
  if (request.streamedBody && !request.streamedBody.complete) reply.header('connection', 'close');
  return error;
}

/**
 * Inserts the in-flight record owned by `ownerId`, replacing an expired one or an abandoned one (its
 * owner's lease has expired; a record of no owner, after ABANDONED_AFTER_SECONDS); false when another
 * holds the key.
 */
async function claim(db: Db, orgId: string, key: string, request: FastifyRequest, fingerprint: string, ownerId: string): Promise<boolean> {
  const expiresAt = sql`now() + make_interval(hours => ${RETENTION_HOURS})`;
  const abandoned = sql`CASE WHEN k.owner_id IS NULL THEN k.created_at < now() - make_interval(secs => ${ABANDONED_AFTER_SECONDS})
    ELSE NOT ${ProcessLease.isLive(sql`k.owner_id`)} END`;
  const { rows } = await sql`
    INSERT INTO idempotency_keys AS k (org_id, key, method, path, body_hash, state, owner_id, expires_at)
    VALUES (${orgId}, ${key}, ${request.method}, ${request.url}, ${fingerprint}, 'in_flight', ${ownerId}, ${expiresAt})
    ON CONFLICT (org_id, key) DO UPDATE SET
      method = excluded.method, path = excluded.path, body_hash = excluded.body_hash, state = 'in_flight',
      response_status = NULL, response_body = NULL, response_type = NULL, secret_withheld = false,
      owner_id = excluded.owner_id, created_at = now(), expires_at = excluded.expires_at
    WHERE k.expires_at < now() OR (k.state = 'in_flight' AND ${abandoned})
    RETURNING key`.execute(db);
  return rows.length > 0;
}

function fingerprintOf(request: FastifyRequest): string {
  return (
    createHash('sha256')
      .update(request.method)
      .update('\0')
      .update(request.url)
      .update('\0')
      // A form is not read yet: its media type stands for it here, and its digest is added once read.
      .update(request.streamedBody ? `form\0${mediaTypeOf(request)}` : canonicalJson(request.body))
      .digest('hex')
  );
}

const mediaTypeOf = (request: FastifyRequest) => (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

/** JSON with sorted keys, so the same body sent with its keys in another order is the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
