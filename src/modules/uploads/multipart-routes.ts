import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { routesOf } from '../../http/route.js';
import { requireFilesWriteFor } from './folder-scope.js';
import type { MultipartUploads } from './multipart.js';
import {
  CompleteRequest,
  ConfirmResponse,
  IdParams,
  MultipartStartRequest,
  MultipartStartResponse,
  PartNumbersRequest,
  PartUrlsResponse,
  StoredPartsResponse,
} from './schema.js';

export async function multipartRoutes(app: FastifyInstance, opts: { multipart: MultipartUploads; publicUrl: string | null }) {
  const { multipart, publicUrl } = opts;
  const route = routesOf(app, { tags: ['uploads', 'multipart'] });

  route.post('/multipart', {
    operationId: 'startMultipartUpload',
    summary: 'Start a multipart upload',
    description: 'For files up to 250 GiB: parts go straight to storage, resumable.',
    scope: 'uploads:write',
    body: MultipartStartRequest,
    response: { 200: { description: 'The pending upload and how to cut the file into parts.', schema: MultipartStartResponse } },
    errors: [409, 413, 415, 422],
    handler: async (request) => multipart.start(requireFilesWriteFor(principalOf(request), [request.body]), request.body),
  });

  route.post('/:data_source_id/parts', {
    operationId: 'presignUploadParts',
    summary: 'Presign parts',
    description: 'Presigned URLs for the given part numbers (up to 1,000 per call).',
    scope: 'uploads:write',
    params: IdParams,
    body: PartNumbersRequest,
    response: { 200: { description: 'One signed request per part number asked for.', schema: PartUrlsResponse } },
    notFound: 'multipart upload',
    errors: [409, 422],
    handler: async (request) =>
      multipart.presignParts(principalOf(request), request.params.data_source_id, request.body.part_numbers, baseUrlOf(request, publicUrl)),
  });

  route.get('/:data_source_id/parts', {
    operationId: 'listUploadParts',
    summary: 'Stored parts',
    description: 'The parts storage already holds, so a client can resume.',
    scope: 'uploads:read',
    params: IdParams,
    response: { 200: { description: 'The parts stored so far, with their ETags and sizes.', schema: StoredPartsResponse } },
    notFound: 'multipart upload',
    errors: [409],
    handler: async (request) => multipart.listParts(principalOf(request), request.params.data_source_id),
  });

  route.post('/:data_source_id/complete', {
    operationId: 'completeMultipartUpload',
    summary: 'Complete a multipart upload',
    description: 'Checks the part list, assembles the file and enqueues the confirm job.',
    scope: 'uploads:write',
    params: IdParams,
    body: CompleteRequest,
    response: { 200: { description: 'The confirm job to poll at `GET /api/v1/jobs/{job_id}`.', schema: ConfirmResponse } },
    notFound: 'multipart upload',
    errors: [409, 422],
    handler: async (request) => multipart.complete(principalOf(request), request.params.data_source_id, request.body.parts),
  });
}
