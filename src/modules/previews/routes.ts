import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { errorResponses } from '../../http/schemas.js';
import type { PreviewService } from './service.js';

const PreviewUrlResponse = Type.Object({
  data_source_id: Type.Union([Type.String(), Type.Null()], { description: 'Identifier of the resolved CAD file; null when no dataset was found.' }),
  status: Type.Union([Type.Literal('ok'), Type.Literal('pending'), Type.Literal('failed'), Type.Literal('no_dataset')], {
    description: 'Preview readiness state: ok, pending, failed, no_dataset.',
  }),
  url: Type.Union([Type.String(), Type.Null()], { description: "Presigned URL to the GLB preview; null unless status is 'ok'." }),
});

/** The unified 3D preview contract: the same payload for a part and for one upload. */
export async function previewRoutes(app: FastifyInstance, opts: { previews: PreviewService; publicUrl: string | null }) {
  const { previews, publicUrl } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const read = { scope: 'parts:read' } as const;

  r.get('/:part_id/preview-url', {
    config: read,
    schema: {
      tags: ['parts'],
      summary: 'Part Preview Url',
      description: "Engine-agnostic GLB preview for a Part: resolves the part's most recent revision's primary active dataset and answers a presigned URL to its GLB once the preview job has made it.",
      params: Type.Object({ part_id: Type.String({ description: 'Identifier of the part.' }) }),
      response: { 200: PreviewUrlResponse, ...errorResponses(404, 422) },
    },
  }, async (request) => previews.forPart(principalOf(request), request.params.part_id, baseUrlOf(request, publicUrl)));

  r.get('/datasets/:data_source_id/preview-url', {
    config: read,
    schema: {
      tags: ['parts'],
      summary: 'Dataset Preview Url',
      description: 'The GLB preview of one upload: ok with a presigned URL, pending (not confirmed or not converted yet), failed, or no_dataset when the file is not a 3D model.',
      params: Type.Object({ data_source_id: Type.String({ description: 'Identifier of the upload.' }) }),
      response: { 200: PreviewUrlResponse, ...errorResponses(404, 422) },
    },
  }, async (request) => previews.forUpload(principalOf(request), request.params.data_source_id, baseUrlOf(request, publicUrl)));
}
