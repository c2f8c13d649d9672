import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { ContentPolicy, ContentPolicyRequest } from './schema.js';
import type { PolicyService } from './service.js';

const PolicyRef = Type.Ref(ContentPolicy);

export async function policyRoutes(app: FastifyInstance, opts: { policy: PolicyService }) {
  const { policy } = opts;
  const route = routesOf(app, { tags: ['policy'] });

  route.get('', {
    operationId: 'getContentPolicy',
    summary: 'Get Content Policy',
    description:
      "The organisation's content policy: the content types its uploads may have, the largest upload and the storage quota. " +
      "Until one is set, the server's default (executables refused, no limit of its own).",
    scope: 'admin',
    response: { 200: { description: 'The policy in force for the organisation.', schema: PolicyRef } },
    handler: async (request) => policy.get(principalOf(request).orgId),
  });

  route.put('', {
    operationId: 'putContentPolicy',
    summary: 'Set Content Policy',
    description:
      "Replaces the policy as a whole: a field left out is back to its default (any type allowed, the server's refused list, " +
      'no size limit, no quota). A declared type outside it is 415 before any bytes are sent, a declared size over ' +
      '`max_upload_bytes` or past `quota_bytes` is 413, and a type sniffed from the bytes outside it fails the confirm ' +
      '(`type_refused`). It holds for uploads from now on; confirmed ones stay.',
    scope: 'admin',
    body: ContentPolicyRequest,
    response: { 200: { description: 'The policy now in force.', schema: PolicyRef } },
    errors: [409, 422],
    handler: async (request) => policy.put(principalOf(request).orgId, request.body),
  });
}
