import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { pageOf } from '../../http/schemas.js';
import { PARTS_KEYSET } from './repo.js';
import type { PartService } from './service.js';
import { Message, Part, PartCreate, PartList, PartListQuery, PartParams, PartUpdate } from './schema.js';

const PartRef = Type.Ref(Part);

/** Parts: reference 001, "List Parts" … "Update Part". */
export async function partRoutes(app: FastifyInstance, opts: { parts: PartService }) {
  const { parts } = opts;
  const route = routesOf(app, { tags: ['parts'] });

  route.get('/', {
    operationId: 'listParts',
    summary: 'List Parts',
    description: "The org's parts, newest first; `q` matches part_number and description, case-insensitive.",
    scope: 'parts:read',
    querystring: PartListQuery,
    response: { 200: { description: 'One page of the matching parts, with the total count.', schema: PartList } },
    errors: [422],
    handler: async (request) => {
      const { q, classification_id: classificationId } = request.query;
      return parts.list(principalOf(request), { q, classificationId, ...pageOf(request.query, PARTS_KEYSET) });
    },
  });

  route.post('/', {
    operationId: 'createPart',
    summary: 'Create Part',
    description: '`part_number` is unique per org (409); `base_uom` defaults to EA.',
    scope: 'parts:write',
    body: PartCreate,
    response: { 201: { description: 'The part created.', schema: PartRef } },
    errors: [409, 422],
    handler: async (request, reply) => reply.code(201).send(await parts.create(principalOf(request), request.body)),
  });

  route.get('/:part_id', {
    operationId: 'getPart',
    summary: 'Get Part',
    scope: 'parts:read',
    params: PartParams,
    response: { 200: { description: 'The part.', schema: PartRef } },
    notFound: 'part',
    errors: [422],
    handler: async (request) => parts.get(principalOf(request), request.params.part_id),
  });

  route.patch('/:part_id', {
    operationId: 'updatePart',
    summary: 'Update Part',
    description: 'Changes the fields sent; `attributes` replaces the whole object. `part_number` stays as created.',
    scope: 'parts:write',
    params: PartParams,
    body: PartUpdate,
    response: { 200: { description: 'The part as updated.', schema: PartRef } },
    notFound: 'part',
    errors: [409, 422],
    handler: async (request) => parts.update(principalOf(request), request.params.part_id, request.body),
  });

  route.delete('/:part_id', {
    operationId: 'deletePart',
    summary: 'Delete Part',
    description: 'Deletes the part with its revisions and dataset links; the uploads themselves are kept.',
    scope: 'parts:write',
    params: PartParams,
    response: { 200: { description: 'The part is deleted.', schema: Message } },
    notFound: 'part',
    errors: [409, 422],
    handler: async (request) => parts.delete(principalOf(request), request.params.part_id),
  });
}
