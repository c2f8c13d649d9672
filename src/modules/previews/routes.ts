import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { routesOf } from '../../http/route.js';
import type { PreviewService } from './service.js';

const PreviewUrlResponse = Type.Object({
  data_source_id: Type.Union([Type.String(), Type.Null()], {
    description: 'Identifier of the resolved CAD file; null when no dataset was found.',
  }),
  status: Type.Union([Type.Literal('ok'), Type.Literal('pending'), Type.Literal('failed'), Type.Literal('no_dataset')], {
    description: 'Preview readiness state: ok, pending, failed, no_dataset.',
  }),
  url: Type.Union([Type.String(), Type.Null()], { description: "Presigned URL to the GLB preview; null unless status is 'ok'." }),
  reason: Type.Union([Type.String(), Type.Null()], {
    description:
      'Why the preview failed: `unreadable`, `unsupported`, `timeout`, `memory_limit`, `crashed`, or `upload_failed` / `upload_cancelled`; null otherwise.',
  }),
});

const PREVIEW_ANSWER = 'The preview: `ok` with a URL to the GLB, or `pending`, `failed` or `no_dataset` without one.';

/** The unified 3D preview contract: the same payload for a part and for one upload. */
export async function previewRoutes(app: FastifyInstance, opts: { previews: PreviewService; publicUrl: string | null }) {
  const { previews, publicUrl } = opts;
  const route = routesOf(app, { tags: ['parts'] });

  route.get('/:part_id/preview-url', {
    operationId: 'getPartPreviewUrl',
    summary: 'Part Preview Url',
    description:
      "Engine-agnostic GLB preview for a Part: resolves the part's most recent revision's primary active dataset and answers a presigned URL to its GLB once the preview job has made it.",
    scope: 'parts:read',
    params: Type.Object({ part_id: Type.String({ description: 'Identifier of the part.' }) }),
    response: { 200: { description: PREVIEW_ANSWER, schema: PreviewUrlResponse } },
    notFound: 'part',
    errors: [422],
    handler: async (request) => previews.forPart(principalOf(request), request.params.part_id, baseUrlOf(request, publicUrl)),
  });

  route.get('/datasets/:data_source_id/preview-url', {
    operationId: 'getDatasetPreviewUrl',
    summary: 'Dataset Preview Url',
    description:
      'The GLB preview of one upload: ok with a presigned URL, pending (not confirmed or not converted yet), failed, or no_dataset when the file is not a 3D model.',
    scope: 'parts:read',
    params: Type.Object({ data_source_id: Type.String({ description: 'Identifier of the upload.' }) }),
    response: { 200: { description: PREVIEW_ANSWER, schema: PreviewUrlResponse } },
    notFound: 'upload',
    errors: [422],
    handler: async (request) => previews.forUpload(principalOf(request), request.params.data_source_id, baseUrlOf(request, publicUrl)),
  });
}
