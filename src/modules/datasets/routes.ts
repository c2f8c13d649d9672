import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { errorResponses, pageOf } from '../../http/schemas.js';
import { DatasetAttach, DatasetLink, DatasetList, DatasetListQuery, DatasetParams, DatasetUpdate } from './schema.js';
import type { DatasetService } from './service.js';
import { RevisionParams } from '../revisions/schema.js';

const LinkRef = Type.Ref(DatasetLink);
const Detached = Type.Object({ message: Type.String({ description: 'Human-readable confirmation that the dataset was detached.' }) });

/** Dataset links: reference 001, "List Datasets" … "Update Dataset" (the one-shot upload is dataset-upload-routes.ts). */
export async function datasetRoutes(app: FastifyInstance, opts: { datasets: DatasetService }) {
  const { datasets } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = { scope: 'parts:read' } as const;
  const write = { scope: 'parts:write' } as const;
  const tags = ['datasets'];

  r.get('', {
    config: read,
    schema: {
      tags, summary: 'List Datasets', description: "The revision's active dataset links, newest first; superseded ones too with `include_inactive=true`.",
      params: RevisionParams, querystring: DatasetListQuery, response: { 200: DatasetList, ...errorResponses(404, 422) },
    },
  }, async (request) => {
    const includeInactive = request.query.include_inactive ?? false;
    return datasets.list(principalOf(request), request.params.part_id, request.params.revision_id, { includeInactive, ...pageOf(request.query) });
  });

  r.post('', {
    config: write,
    schema: {
      tags, summary: 'Attach Dataset',
      description: 'Attach an existing upload to a revision (409 when cancelled). The first link becomes primary; `is_primary: true` '
        + 'demotes the others. An active link with the same filename is superseded (`is_active: false`). '
        + 'For a fresh file, prefer `POST …/datasets/upload`.',
      params: RevisionParams, body: DatasetAttach, response: { 201: LinkRef, ...errorResponses(404, 409, 422) },
    },
  }, async (request, reply) => {
    const { part_id: partId, revision_id: revisionId } = request.params;
    return reply.code(201).send(await datasets.attach(principalOf(request), partId, revisionId, request.body));
  });

  r.delete('/:dataset_link_id', {
    config: write,
    schema: {
      tags, summary: 'Detach Dataset', description: 'Removes the link, never the upload; a detached primary hands over to the newest remaining active link.',
      params: DatasetParams, response: { 200: Detached, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => {
    const { part_id: partId, revision_id: revisionId, dataset_link_id: linkId } = request.params;
    return datasets.detach(principalOf(request), partId, revisionId, linkId);
  });

  r.patch('/:dataset_link_id', {
    config: write,
    schema: {
      tags, summary: 'Update Dataset',
      description: '`filename` renames the underlying upload; `is_primary: true` promotes this link and demotes the others in the same '
        + 'transaction; `is_primary: false` on the primary is 409: a revision with active links keeps exactly one primary.',
      params: DatasetParams, body: DatasetUpdate, response: { 200: LinkRef, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => {
    const { part_id: partId, revision_id: revisionId, dataset_link_id: linkId } = request.params;
    return datasets.update(principalOf(request), partId, revisionId, linkId, request.body);
  });
}
