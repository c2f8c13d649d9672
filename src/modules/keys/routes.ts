import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { NullableTimestamp, Timestamp, errorResponses, listOf } from '../../http/schemas.js';
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
const CreatedKey = Type.Composite([ApiKey, Type.Object({ key: Type.String({ description: 'The secret key: shown only in this answer.' }) })]);
const CreateKeyRequest = Type.Object(
  {
    scopes: Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true }),
    label: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export async function keysRoutes(app: FastifyInstance, opts: { keys: KeysService }) {
  const { keys } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = { scope: 'admin' } as const;
  const tags = ['keys'];

  r.post('', {
    // The secret is shown in this answer only: Idempotency-Key keeps the answer without it and refuses a replay (409).
    config: { ...admin, secretField: 'key' },
    schema: {
      tags,
      summary: 'Create API key',
      description: 'The secret `key` is in this answer only. Sent again with the same Idempotency-Key, the request is not replayed: '
        + '409 conflict names the key created first (`details.api_key`), whose secret is not kept anywhere.',
      body: CreateKeyRequest,
      response: { 201: CreatedKey, ...errorResponses(409, 422) },
    },
  }, async (request, reply) => {
    const created = await keys.create(principalOf(request).orgId, request.body.scopes, request.body.label ?? null);
    return reply.code(201).send(created);
  });

  r.get('', {
    config: admin,
    schema: { tags, summary: "List the org's API keys", response: { 200: listOf(ApiKey), ...errorResponses() } },
  }, async (request) => {
    const data = await keys.list(principalOf(request).orgId);
    return { count: data.length, data };
  });

  r.delete('/:id', {
    config: admin,
    schema: { tags, summary: 'Revoke API key', params: Type.Object({ id: Type.String() }), response: { 200: ApiKey, ...errorResponses(404, 409) } },
  }, async (request) => keys.revoke(request.params.id, principalOf(request).orgId));
}
