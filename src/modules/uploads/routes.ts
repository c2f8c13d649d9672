import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { insufficientScope } from '../../errors.js';
import { errorResponses, pageOf } from '../../http/schemas.js';
import { grants } from '../../access/scopes.js';
import {
  BulkRequest,
  BulkResponse,
  ConfirmRequest,
  ConfirmResponse,
  DownloadUrlResponse,
  IdParams,
  ListQuery,
  PresignBatchRequest,
  PresignBatchResponse,
  PresignRequest,
  PresignResponse,
  SummaryResponse,
  Upload,
  UploadList,
} from './schema.js';
import type { Caller, Principal } from '../../access/caller.js';
import type { UploadsService } from './service.js';

const caller = (p: Principal): Caller => ({ orgId: p.orgId, keyId: p.keyId });
const UploadRef = Type.Ref(Upload);

export async function uploadsRoutes(app: FastifyInstance, opts: { uploads: UploadsService; publicUrl: string | null }) {
  const { uploads, publicUrl } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = { scope: 'uploads:read' } as const;
  const write = { scope: 'uploads:write' } as const;
  const tags = ['uploads'];

  r.post('/presign', {
    config: write,
    schema: {
      tags, summary: 'Presign', description: 'Create a pending upload and a presigned URL to PUT its bytes to.',
      body: PresignRequest, response: { 200: PresignResponse, ...errorResponses(409, 422) },
    },
  }, async (request) => uploads.presign(caller(principalOf(request)), request.body, baseUrlOf(request, publicUrl)));

  r.post('/presign/batch', {
    config: write,
    schema: {
      tags, summary: 'Presign many', description: 'Presign up to 100 files in one call; one invalid file rejects the batch.',
      body: PresignBatchRequest, response: { 200: PresignBatchResponse, ...errorResponses(409, 422) },
    },
  }, async (request) => ({
    files: await uploads.presignMany(caller(principalOf(request)), request.body.files, baseUrlOf(request, publicUrl)),
  }));

  r.post('/confirm', {
    config: write,
    schema: {
      tags, summary: 'Confirm', description: 'Enqueue the confirm job; confirming again returns the same job.',
      body: ConfirmRequest, response: { 200: ConfirmResponse, ...errorResponses(404, 409, 422) },
    },
  }, async (request) => uploads.confirm(caller(principalOf(request)), request.body.data_source_id));

  r.get('/', {
    config: read,
    schema: {
      tags, summary: 'List Uploads', description: "List the org's uploads, newest first, hiding cancelled rows by default.",
      querystring: ListQuery, response: { 200: UploadList, ...errorResponses(422) },
    },
  }, async (request) => {
    const principal = principalOf(request);
    const { include_cancelled: includeCancelled = false, status } = request.query;
    if ((includeCancelled || status === 'cancelled') && !grants(principal.scopes, 'admin')) throw insufficientScope('admin');
    return uploads.list(caller(principal), { includeCancelled, status, ...pageOf(request.query) });
  });

  r.get('/summary', {
    config: read,
    schema: { tags, summary: 'Storage summary', response: { 200: SummaryResponse, ...errorResponses() } },
  }, async (request) => uploads.summary(caller(principalOf(request))));

  r.get('/:data_source_id', {
    config: read,
    schema: { tags, summary: 'Get Upload', params: IdParams, response: { 200: UploadRef, ...errorResponses(404) } },
  }, async (request) => uploads.get(caller(principalOf(request)), request.params.data_source_id));

  r.post('/:data_source_id/cancel', {
    config: write,
    schema: {
      tags, summary: 'Cancel Upload', description: 'Mark a pending upload as cancelled; idempotent on cancelled, 409 past pending.',
      params: IdParams, response: { 200: UploadRef, ...errorResponses(404, 409) },
    },
  }, async (request) => uploads.cancel(caller(principalOf(request)), request.params.data_source_id));

  r.post('/:data_source_id/retry', {
    config: write,
    schema: {
      tags, summary: 'Retry Upload', description: 'Re-queue the confirm job for a pending or failed upload.',
      params: IdParams, response: { 200: UploadRef, ...errorResponses(404, 409) },
    },
  }, async (request) => uploads.retry(caller(principalOf(request)), request.params.data_source_id));

  r.post('/bulk-cancel', {
    config: write,
    schema: {
      tags, summary: 'Bulk Cancel Uploads', description: 'Cancel up to 100 uploads; per-row failures are reported in skipped.',
      body: BulkRequest, response: { 200: BulkResponse, ...errorResponses(409, 422) },
    },
  }, async (request) => uploads.bulkCancel(caller(principalOf(request)), request.body.ids));

  r.post('/bulk-retry', {
    config: write,
    schema: {
      tags, summary: 'Bulk Retry Uploads', description: 'Re-queue up to 100 uploads; per-row failures are reported in skipped.',
      body: BulkRequest, response: { 200: BulkResponse, ...errorResponses(409, 422) },
    },
  }, async (request) => uploads.bulkRetry(caller(principalOf(request)), request.body.ids));

  r.get('/:data_source_id/download-url', {
    config: read,
    schema: {
      tags, summary: 'Download Url', description: 'A short-lived URL to the bytes of a confirmed upload (404 otherwise).',
      params: IdParams, response: { 200: DownloadUrlResponse, ...errorResponses(404) },
    },
  }, async (request) => uploads.downloadUrl(caller(principalOf(request)), request.params.data_source_id, baseUrlOf(request, publicUrl)));

}
