import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { errorResponses } from '../../http/schemas.js';
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
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const write = { scope: 'uploads:write' } as const;
  const tags = ['uploads', 'multipart'];

  r.post('/multipart', {
    config: write,
    schema: {
      tags, summary: 'Start a multipart upload', description: 'For files up to 250 GiB: parts go straight to storage, resumable.',
      body: MultipartStartRequest, response: { 200: MultipartStartResponse, ...errorResponses(409, 422) },
    },
  }, async (request) => multipart.start(principalOf(request), request.body));

  r.post('/:data_source_id/parts', {
    config: write,
    schema: {
      tags, summary: 'Presign parts', description: 'Presigned URLs for the given part numbers (up to 1,000 per call).',
      params: IdParams, body: PartNumbersRequest, response: { 200: PartUrlsResponse, ...errorResponses(404, 409, 422) },
    },
  }, async (request) =>
    multipart.presignParts(principalOf(request), request.params.data_source_id, request.body.part_numbers, baseUrlOf(request, publicUrl)));

  r.get('/:data_source_id/parts', {
    config: { scope: 'uploads:read' },
    schema: {
      tags, summary: 'Stored parts', description: 'The parts storage already holds, so a client can resume.',
      params: IdParams, response: { 200: StoredPartsResponse, ...errorResponses(404, 409) },
    },
  }, async (request) => multipart.listParts(principalOf(request), request.params.data_source_id));

  r.post('/:data_source_id/complete', {
    config: write,
    schema: {
      tags, summary: 'Complete a multipart upload', description: 'Checks the part list, assembles the file and enqueues the confirm job.',
      params: IdParams, body: CompleteRequest, response: { 200: ConfirmResponse, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => multipart.complete(principalOf(request), request.params.data_source_id, request.body.parts));
}
