import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { routesOf } from '../../http/route.js';
import { requireFilesWriteFor } from './folder-scope.js';
import type { MultipartUploads } from './multipart.js';
import {
  CompleteRequest,
  ConfirmResponse,
  DeclareSha256Request,
  IdParams,
  MultipartStartRequest,
  MultipartStartResponse,
  PartNumbersRequest,
  PartUrlsResponse,
  StoredPartsResponse,
  Upload,
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
    description:
      'Checks the part list, assembles the file and enqueues the confirm job. A `sha256` not declared at start (hashed while the ' +
      'parts went out) is checked by the confirm job as one declared at start: other bytes fail with `checksum_mismatch`. ' +
      'A `sha256` other than the one the upload already declared is 409.',
    scope: 'uploads:write',
    params: IdParams,
    body: CompleteRequest,
    response: { 200: { description: 'The confirm job to poll at `GET /api/v1/jobs/{job_id}`.', schema: ConfirmResponse } },
    notFound: 'multipart upload',
    errors: [409, 422],
    handler: async (request) =>
      multipart.complete(principalOf(request), request.params.data_source_id, request.body.parts, request.body.sha256),
  });

  route.post('/:data_source_id/sha256', {
    operationId: 'declareUploadSha256',
    summary: 'Declare the sha256 of a multipart upload',
    description:
      'For a client that hashes the file while its parts go out: records the sha256 on a multipart upload still taking parts. ' +
      'When the organisation already holds confirmed bytes with that sha256 and size, the upload is answered confirmed and ' +
      '`deduplicated` at once, its stored parts are dropped, and nothing more is to be sent. Otherwise it stays pending and ' +
      'the confirm job checks the hash. A sha256 other than one already declared is 409, as is an upload that takes no parts.',
    scope: 'uploads:write',
    params: IdParams,
    body: DeclareSha256Request,
    response: {
      200: { description: 'The upload: confirmed and deduplicated, or still pending with its sha256 recorded.', schema: Type.Ref(Upload) },
    },
    notFound: 'multipart upload',
    errors: [409, 422],
    handler: async (request) => multipart.declareSha256(principalOf(request), request.params.data_source_id, request.body.sha256),
  });
}
