import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { insufficientScope } from '../../errors.js';
import { routesOf } from '../../http/route.js';
import { requireFilesWriteFor } from './folder-scope.js';
import { pageOf } from '../../http/schemas.js';
import { UPLOADS_KEYSET } from './repo.js';
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
  const route = routesOf(app, { tags: ['uploads'] });

  route.post('/presign', {
    operationId: 'createPresignedUpload',
    summary: 'Presign',
    description:
      "Create a pending upload and a presigned URL to PUT its bytes to. The organisation's content policy holds: a declared " +
      '`content_type` outside it is 415, a declared `size_bytes` over its largest upload or past its storage quota 413.',
    scope: 'uploads:write',
    body: PresignRequest,
    response: { 200: { description: 'The pending upload and the signed request that stores its bytes.', schema: PresignResponse } },
    errors: [409, 413, 415, 422],
    handler: async (request) => {
      const principal = principalOf(request);
      requireFilesWriteFor(principal, [request.body]);
      return uploads.presign(caller(principal), request.body, baseUrlOf(request, publicUrl));
    },
  });

  route.post('/presign/batch', {
    operationId: 'createPresignedUploads',
    summary: 'Presign many',
    description: 'Presign up to 100 files in one call; one invalid file rejects the batch.',
    scope: 'uploads:write',
    body: PresignBatchRequest,
    response: {
      200: { description: 'One pending upload and signed request per file, in the order sent.', schema: PresignBatchResponse },
    },
    errors: [409, 413, 415, 422],
    handler: async (request) => ({
      files: await uploads.presignMany(
        caller(requireFilesWriteFor(principalOf(request), request.body.files)),
        request.body.files,
        baseUrlOf(request, publicUrl),
      ),
    }),
  });

  route.post('/confirm', {
    operationId: 'confirmUpload',
    summary: 'Confirm',
    description: 'Enqueue the confirm job; confirming again returns the same job.',
    scope: 'uploads:write',
    body: ConfirmRequest,
    response: { 200: { description: 'The confirm job to poll at `GET /api/v1/jobs/{job_id}`.', schema: ConfirmResponse } },
    notFound: 'upload',
    errors: [409, 422],
    handler: async (request) => uploads.confirm(caller(principalOf(request)), request.body.data_source_id),
  });

  route.get('/', {
    operationId: 'listUploads',
    summary: 'List Uploads',
    description: "List the org's uploads, newest first, hiding cancelled rows by default.",
    scope: 'uploads:read',
    querystring: ListQuery,
    response: { 200: { description: 'One page of the matching uploads, with the total count.', schema: UploadList } },
    errors: [422],
    handler: async (request) => {
      const principal = principalOf(request);
      const { include_cancelled: includeCancelled = false, include_deleted: includeDeleted = false, status } = request.query;
      if ((includeCancelled || status === 'cancelled') && !grants(principal.scopes, 'admin')) throw insufficientScope('admin');
      return uploads.list(caller(principal), { includeCancelled, includeDeleted, status, ...pageOf(request.query, UPLOADS_KEYSET) });
    },
  });

  route.get('/summary', {
    operationId: 'getStorageSummary',
    summary: 'Storage summary',
    description:
      "Counts and bytes of the org's uploads, and where it stands against its storage quota: `used_bytes` (confirmed, not purged) " +
      'and `pending_bytes` (declared sizes of pending uploads) against `quota_bytes`, with `available_bytes` left.',
    scope: 'uploads:read',
    response: { 200: { description: "Counts and bytes of the org's uploads, by status and by content type.", schema: SummaryResponse } },
    handler: async (request) => uploads.summary(caller(principalOf(request))),
  });

  route.get('/:data_source_id', {
    operationId: 'getUpload',
    summary: 'Get Upload',
    scope: 'uploads:read',
    params: IdParams,
    response: { 200: { description: 'The upload.', schema: UploadRef } },
    notFound: 'upload',
    handler: async (request) => uploads.get(caller(principalOf(request)), request.params.data_source_id),
  });

  route.post('/:data_source_id/cancel', {
    operationId: 'cancelUpload',
    summary: 'Cancel Upload',
    description: 'Mark a pending upload as cancelled; idempotent on cancelled, 409 past pending.',
    scope: 'uploads:write',
    params: IdParams,
    response: { 200: { description: 'The upload, now cancelled.', schema: UploadRef } },
    notFound: 'upload',
    errors: [409],
    handler: async (request) => uploads.cancel(caller(principalOf(request)), request.params.data_source_id),
  });

  route.post('/:data_source_id/retry', {
    operationId: 'retryUpload',
    summary: 'Retry Upload',
    description: 'Re-queue the confirm job for a pending or failed upload.',
    scope: 'uploads:write',
    params: IdParams,
    response: { 200: { description: 'The upload, pending again with its confirm job queued.', schema: UploadRef } },
    notFound: 'upload',
    errors: [409],
    handler: async (request) => uploads.retry(caller(principalOf(request)), request.params.data_source_id),
  });

  route.post('/bulk-cancel', {
    operationId: 'bulkCancelUploads',
    summary: 'Bulk Cancel Uploads',
    description: 'Cancel up to 100 uploads; per-row failures are reported in skipped.',
    scope: 'uploads:write',
    body: BulkRequest,
    response: { 200: { description: 'How many were cancelled, and each id skipped with its reason.', schema: BulkResponse } },
    errors: [409, 422],
    handler: async (request) => uploads.bulkCancel(caller(principalOf(request)), request.body.ids),
  });

  route.post('/bulk-retry', {
    operationId: 'bulkRetryUploads',
    summary: 'Bulk Retry Uploads',
    description: 'Re-queue up to 100 uploads; per-row failures are reported in skipped.',
    scope: 'uploads:write',
    body: BulkRequest,
    response: { 200: { description: 'How many were re-queued, and each id skipped with its reason.', schema: BulkResponse } },
    errors: [409, 422],
    handler: async (request) => uploads.bulkRetry(caller(principalOf(request)), request.body.ids),
  });

  route.get('/:data_source_id/download-url', {
    operationId: 'getDownloadUrl',
    summary: 'Download Url',
    description: 'A short-lived URL to the bytes of a confirmed upload (404 otherwise).',
    scope: 'uploads:read',
    params: IdParams,
    response: { 200: { description: 'A signed URL that serves the bytes until it expires.', schema: DownloadUrlResponse } },
    notFound: 'confirmed upload',
    handler: async (request) =>
      uploads.downloadUrl(caller(principalOf(request)), request.params.data_source_id, baseUrlOf(request, publicUrl)),
  });
}
