import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { errorResponses, pageOf } from '../../http/schemas.js';
import type { PartService } from './service.js';
import { Message, Part, PartCreate, PartList, PartListQuery, PartParams, PartUpdate } from './schema.js';

const PartRef = Type.Ref(Part);

/** Parts: reference 001, "List Parts" … "Update Part". */
export async function partRoutes(app: FastifyInstance, opts: { parts: PartService }) {
  const { parts } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = { scope: 'parts:read' } as const;
  const write = { scope: 'parts:write' } as const;
  const tags = ['parts'];

  r.get('/', {
    config: read,
    schema: {
      tags, summary: 'List Parts', description: "The org's parts, newest first; `q` matches part_number and description, case-insensitive.",
      querystring: PartListQuery, response: { 200: PartList, ...errorResponses(422) },
    },
  }, async (request) => {
    const { q, classification_id: classificationId } = request.query;
    return parts.list(principalOf(request), { q, classificationId, ...pageOf(request.query) });
  });

  r.post('/', {
    config: write,
    schema: {
      tags, summary: 'Create Part', description: '`part_number` is unique per org (409); `base_uom` defaults to EA.',
      body: PartCreate, response: { 201: PartRef, ...errorResponses(409, 422) },
    },
  }, async (request, reply) => reply.code(201).send(await parts.create(principalOf(request), request.body)));

  r.get('/:part_id', {
    config: read,
    schema: { tags, summary: 'Get Part', params: PartParams, response: { 200: PartRef, ...errorResponses(404, 422) } },
  }, async (request) => parts.get(principalOf(request), request.params.part_id));

  r.patch('/:part_id', {
    config: write,
    schema: {
      tags, summary: 'Update Part', description: 'Changes the fields sent; `attributes` replaces the whole object. `part_number` stays as created.',
      params: PartParams, body: PartUpdate, response: { 200: PartRef, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => parts.update(principalOf(request), request.params.part_id, request.body));

  r.delete('/:part_id', {
    config: write,
    schema: {
      tags, summary: 'Delete Part', description: 'Deletes the part with its revisions and dataset links; the uploads themselves are kept.',
      params: PartParams, response: { 200: Message, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => parts.delete(principalOf(request), request.params.part_id));
}
