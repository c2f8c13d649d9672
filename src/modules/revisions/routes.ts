import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { errorResponses, pageOf } from '../../http/schemas.js';
import { PartRevision, RevisionCreate, RevisionList, RevisionListQuery, RevisionParams, RevisionUpdate } from './schema.js';
import type { RevisionService } from './service.js';
import { Message, PartParams } from '../parts/schema.js';

const RevisionRef = Type.Ref(PartRevision);

/** Revisions: reference 001, "List Revisions" … "Update Revision". */
export async function revisionRoutes(app: FastifyInstance, opts: { revisions: RevisionService }) {
  const { revisions } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = { scope: 'parts:read' } as const;
  const write = { scope: 'parts:write' } as const;
  const tags = ['revisions'];

  r.get('', {
    config: read,
    schema: {
      tags, summary: 'List Revisions', description: "The part's revisions, newest first.",
      params: PartParams, querystring: RevisionListQuery, response: { 200: RevisionList, ...errorResponses(404, 422) },
    },
  }, async (request) => revisions.list(principalOf(request), request.params.part_id, pageOf(request.query)));

  r.post('', {
    config: write,
    schema: {
      tags, summary: 'Create Revision',
      description: '`revision_code` is unique per part (409); `parent_revision_id` must be a revision of the same part (422).',
      params: PartParams, body: RevisionCreate, response: { 201: RevisionRef, ...errorResponses(404, 409, 422) },
    },
  }, async (request, reply) => reply.code(201).send(await revisions.create(principalOf(request), request.params.part_id, request.body)));

  r.get('/:revision_id', {
    config: read,
    schema: { tags, summary: 'Get Revision', params: RevisionParams, response: { 200: RevisionRef, ...errorResponses(404, 422) } },
  }, async (request) => revisions.get(principalOf(request), request.params.part_id, request.params.revision_id));

  r.patch('/:revision_id', {
    config: write,
    schema: {
      tags, summary: 'Update Revision', description: 'Merges `attributes` at the top level; a key set to null is removed.',
      params: RevisionParams, body: RevisionUpdate, response: { 200: RevisionRef, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => revisions.update(principalOf(request), request.params.part_id, request.params.revision_id, request.body));

  r.delete('/:revision_id', {
    config: write,
    schema: {
      tags, summary: 'Delete Revision',
      description: 'Deletes the revision and its dataset links (the uploads are kept); 409 while other revisions name it as parent.',
      params: RevisionParams, response: { 200: Message, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => revisions.delete(principalOf(request), request.params.part_id, request.params.revision_id));
}
