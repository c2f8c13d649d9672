import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { pageOf } from '../../http/schemas.js';
import { REVISIONS_KEYSET } from './repo.js';
import { PartRevision, RevisionCreate, RevisionList, RevisionListQuery, RevisionParams, RevisionUpdate } from './schema.js';
import type { RevisionService } from './service.js';
import { Message, PartParams } from '../parts/schema.js';

const RevisionRef = Type.Ref(PartRevision);

/** Revisions: reference 001, "List Revisions" … "Update Revision". */
export async function revisionRoutes(app: FastifyInstance, opts: { revisions: RevisionService }) {
  const { revisions } = opts;
  const route = routesOf(app, { tags: ['revisions'] });

  route.get('', {
    operationId: 'listRevisions',
    summary: 'List Revisions',
    description: "The part's revisions, newest first.",
    scope: 'parts:read',
    params: PartParams,
    querystring: RevisionListQuery,
    response: { 200: { description: "One page of the part's revisions, with the total count.", schema: RevisionList } },
    notFound: 'part',
    errors: [422],
    handler: async (request) => revisions.list(principalOf(request), request.params.part_id, pageOf(request.query, REVISIONS_KEYSET)),
  });

  route.post('', {
    operationId: 'createRevision',
    summary: 'Create Revision',
    description: '`revision_code` is unique per part (409); `parent_revision_id` must be a revision of the same part (422).',
    scope: 'parts:write',
    params: PartParams,
    body: RevisionCreate,
    response: { 201: { description: 'The revision created.', schema: RevisionRef } },
    notFound: 'part',
    errors: [409, 422],
    handler: async (request, reply) =>
      reply.code(201).send(await revisions.create(principalOf(request), request.params.part_id, request.body)),
  });

  route.get('/:revision_id', {
    operationId: 'getRevision',
    summary: 'Get Revision',
    scope: 'parts:read',
    params: RevisionParams,
    response: { 200: { description: 'The revision.', schema: RevisionRef } },
    notFound: 'part or revision of that part',
    errors: [422],
    handler: async (request) => revisions.get(principalOf(request), request.params.part_id, request.params.revision_id),
  });

  route.patch('/:revision_id', {
    operationId: 'updateRevision',
    summary: 'Update Revision',
    description: 'Merges `attributes` at the top level; a key set to null is removed.',
    scope: 'parts:write',
    params: RevisionParams,
    body: RevisionUpdate,
    response: { 200: { description: 'The revision as updated.', schema: RevisionRef } },
    notFound: 'part or revision of that part',
    errors: [409, 422],
    handler: async (request) => revisions.update(principalOf(request), request.params.part_id, request.params.revision_id, request.body),
  });

  route.delete('/:revision_id', {
    operationId: 'deleteRevision',
    summary: 'Delete Revision',
    description: 'Deletes the revision and its dataset links (the uploads are kept); 409 while other revisions name it as parent.',
    scope: 'parts:write',
    params: RevisionParams,
    response: { 200: { description: 'The revision is deleted.', schema: Message } },
    notFound: 'part or revision of that part',
    errors: [409, 422],
    handler: async (request) => revisions.delete(principalOf(request), request.params.part_id, request.params.revision_id),
  });
}
