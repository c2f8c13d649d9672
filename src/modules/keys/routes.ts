import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { NullableTimestamp, Timestamp, listOf } from '../../http/schemas.js';
import { SCOPES } from '../../access/scopes.js';
import type { KeysService } from './service.js';

const ApiKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  org_id: Type.String({ format: 'uuid' }),
  prefix: Type.String({ description: 'Visible start of the key, to recognise it in lists and logs.' }),
  scopes: Type.Array(Type.String()),
  label: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
});
const CreatedKey = Type.Composite([
  ApiKey,
  Type.Object({ key: Type.String({ description: 'The secret key: shown only in this answer.' }) }),
]);
const CreateKeyRequest = Type.Object(
  {
    scopes: Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true }),
    label: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export async function keysRoutes(app: FastifyInstance, opts: { keys: KeysService }) {
  const { keys } = opts;
  const route = routesOf(app, { tags: ['keys'] });

  route.post('', {
    operationId: 'createApiKey',
    summary: 'Create API key',
    description:
      'The secret `key` is in this answer only. Sent again with the same Idempotency-Key, the request is not replayed: ' +
      '409 conflict names the key created first (`details.api_key`), whose secret is not kept anywhere.',
    scope: 'admin',
    body: CreateKeyRequest,
    response: { 201: { description: 'The key created, with its secret: the only time the secret is shown.', schema: CreatedKey } },
    errors: [409, 422],
    // The secret is shown in this answer only: Idempotency-Key keeps the answer without it and refuses a replay (409).
    options: { config: { secretField: 'key' } },
    handler: async (request, reply) => {
      const created = await keys.create(principalOf(request).orgId, request.body.scopes, request.body.label ?? null);
      return reply.code(201).send(created);
    },
  });

  route.get('', {
    operationId: 'listApiKeys',
    summary: "List the org's API keys",
    scope: 'admin',
    response: { 200: { description: 'Every key of the org, revoked ones included; never a secret.', schema: listOf(ApiKey) } },
    handler: async (request) => {
      const data = await keys.list(principalOf(request).orgId);
      // Not paged: every key in one answer, so no page follows it.
      return { count: data.length, data, next_cursor: null };
    },
  });

  route.delete('/:id', {
    operationId: 'revokeApiKey',
    summary: 'Revoke API key',
    scope: 'admin',
    params: Type.Object({ id: Type.String() }),
    response: { 200: { description: 'The key, now revoked: it no longer authenticates.', schema: ApiKey } },
    notFound: 'API key',
    errors: [409],
    handler: async (request) => keys.revoke(request.params.id, principalOf(request).orgId),
  });
}
