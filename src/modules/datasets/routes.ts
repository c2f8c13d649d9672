import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { pageOf } from '../../http/schemas.js';
import { DATASETS_KEYSET } from './repo.js';
import { DatasetAttach, DatasetLink, DatasetList, DatasetListQuery, DatasetParams, DatasetUpdate } from './schema.js';
import type { DatasetService } from './service.js';
import { RevisionParams } from '../revisions/schema.js';

const LinkRef = Type.Ref(DatasetLink);
const Detached = Type.Object({ message: Type.String({ description: 'Human-readable confirmation that the dataset was detached.' }) });

/** Dataset links: reference 001, "List Datasets" … "Update Dataset" (the one-shot upload is dataset-upload-routes.ts). */
export async function datasetRoutes(app: FastifyInstance, opts: { datasets: DatasetService }) {
  const { datasets } = opts;
  const route = routesOf(app, { tags: ['datasets'] });

  route.get('', {
    operationId: 'listDatasets',
    summary: 'List Datasets',
    description: "The revision's active dataset links, newest first; superseded ones too with `include_inactive=true`.",
    scope: 'parts:read',
    params: RevisionParams,
    querystring: DatasetListQuery,
    response: { 200: { description: "One page of the revision's dataset links, with the total count.", schema: DatasetList } },
    notFound: 'part or revision of that part',
    errors: [422],
    handler: async (request) => {
      const includeInactive = request.query.include_inactive ?? false;
      return datasets.list(principalOf(request), request.params.part_id, request.params.revision_id, {
        includeInactive,
        ...pageOf(request.query, DATASETS_KEYSET),
      });
    },
  });

  route.post('', {
    operationId: 'attachDataset',
    summary: 'Attach Dataset',
    description:
      'Attach an existing upload to a revision (409 when cancelled). The first link becomes primary; `is_primary: true` ' +
      'demotes the others. An active link with the same filename is superseded (`is_active: false`). ' +
      'For a fresh file, prefer `POST …/datasets/upload`.',
    scope: 'parts:write',
    params: RevisionParams,
    body: DatasetAttach,
    response: { 201: { description: 'The dataset link created.', schema: LinkRef } },
    notFound: 'part, revision of that part, or upload',
    errors: [409, 422],
    handler: async (request, reply) => {
      const { part_id: partId, revision_id: revisionId } = request.params;
      return reply.code(201).send(await datasets.attach(principalOf(request), partId, revisionId, request.body));
    },
  });

  route.delete('/:dataset_link_id', {
    operationId: 'detachDataset',
    summary: 'Detach Dataset',
    description: 'Removes the link, never the upload; a detached primary hands over to the newest remaining active link.',
    scope: 'parts:write',
    params: DatasetParams,
    response: { 200: { description: 'The link is removed.', schema: Detached } },
    notFound: 'part, revision of that part, or dataset link of that revision',
    errors: [409, 422],
    handler: async (request) => {
      const { part_id: partId, revision_id: revisionId, dataset_link_id: linkId } = request.params;
      return datasets.detach(principalOf(request), partId, revisionId, linkId);
    },
  });

  route.patch('/:dataset_link_id', {
    operationId: 'updateDataset',
    summary: 'Update Dataset',
    description:
      '`filename` renames the underlying upload; `is_primary: true` promotes this link and demotes the others in the same ' +
      'transaction; `is_primary: false` on the primary is 409: a revision with active links keeps exactly one primary.',
    scope: 'parts:write',
    params: DatasetParams,
    body: DatasetUpdate,
    response: { 200: { description: 'The dataset link as updated.', schema: LinkRef } },
    notFound: 'part, revision of that part, or dataset link of that revision',
    errors: [409, 422],
    handler: async (request) => {
      const { part_id: partId, revision_id: revisionId, dataset_link_id: linkId } = request.params;
      return datasets.update(principalOf(request), partId, revisionId, linkId, request.body);
    },
  });
}
