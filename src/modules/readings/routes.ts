import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { pageOf } from '../../http/schemas.js';
import { READINGS_KEYSET } from './repo.js';
import {
  JobRef,
  Reading,
  ReadingEdit,
  ReadingList,
  ReadingListQuery,
  ReadingParams,
  SearchQuery,
  SearchResults,
  UploadEvent,
  UploadParams,
} from './schema.js';
import { SEARCH_KEYSET, search } from './search.js';
import { sendThumbnail } from './thumbnail.js';
import type { ReadingService } from './service.js';

export const IMAGE_BYTES = { type: 'string', format: 'binary' } as const;

/** Readings (reference 004's extracted facts, correctable), re-running pipeline steps, and thumbnails. */
export async function readingRoutes(app: FastifyInstance, opts: { readings: ReadingService; db: Db }) {
  const { readings, db } = opts;
  const route = routesOf(app, { tags: ['readings'] });

  route.get('/readings', {
    operationId: 'listReadings',
    summary: 'List Readings',
    description: "Newest first. `data_source_id`: one upload's reading; `file_id`: the readings of a file's versions; `kind`, `status`.",
    scope: 'uploads:read',
    querystring: ReadingListQuery,
    response: { 200: { description: 'One page of readings, with the total count.', schema: ReadingList } },
    notFound: 'upload or file',
    errors: [422],
    handler: async (request) => {
      const { data_source_id, file_id, kind, status } = request.query;
      return readings.list(principalOf(request), { data_source_id, file_id, kind, status, ...pageOf(request.query, READINGS_KEYSET) });
    },
  });

  route.get('/readings/:reading_id', {
    operationId: 'getReading',
    summary: 'Get Reading',
    description: 'One reading: `pending` while the processing job runs, then `ready` with `content`, or `failed` with `error`.',
    scope: 'uploads:read',
    params: ReadingParams,
    response: { 200: { description: 'The reading.', schema: Reading } },
    notFound: 'reading',
    handler: async (request) => readings.get(principalOf(request), request.params.reading_id),
  });

  route.put('/readings/:reading_id', {
    operationId: 'editReading',
    summary: 'Edit Reading',
    description:
      "Stores a person's correction as `edited_content`; `content` keeps what was extracted. A re-run of the processing keeps the correction.",
    scope: 'uploads:write',
    params: ReadingParams,
    body: ReadingEdit,
    response: { 200: { description: 'The reading with its correction.', schema: Reading } },
    notFound: 'reading',
    errors: [409, 413, 422],
    handler: async (request) => readings.edit(principalOf(request), request.params.reading_id, request.body.content),
  });

  route.post('/uploads/:data_source_id/events', {
    operationId: 'triggerUploadEvent',
    summary: 'Trigger Upload Event',
    description:
      '`PROCESS_DOCUMENT` reads the bytes again (a new reading job); `GENERATE_PREVIEW` makes the 3D preview again. Answers the job to poll at `GET /api/v1/jobs/{job_id}`.',
    scope: 'uploads:write',
    params: UploadParams,
    body: UploadEvent,
    response: { 202: { description: 'The job that runs the step.', schema: JobRef } },
    notFound: 'upload',
    errors: [409, 422],
    handler: async (request, reply) =>
      reply.code(202).send(await readings.trigger(principalOf(request), request.params.data_source_id, request.body.event)),
  });

  route.get('/uploads/:data_source_id/thumbnail', {
    operationId: 'getUploadThumbnail',
    summary: 'Get Upload Thumbnail',
    description: 'A small WebP of an image upload or of the first page of a PDF, made by its reading; 404 where there is none.',
    scope: 'uploads:read',
    params: UploadParams,
    produces: ['image/webp', 'image/png'],
    response: { 200: { description: 'The thumbnail.', schema: IMAGE_BYTES as never } },
    notFound: 'upload or thumbnail',
    handler: async (request, reply) => {
      return sendThumbnail(reply, await readings.thumbnail(principalOf(request), request.params.data_source_id));
    },
  });

  route.get('/search', {
    operationId: 'search',
    summary: 'Search',
    description:
      'Uploads and files of your organisation by name and by the text of their readings (full-text, ranked, with a snippet). ' +
      'Bytes a file holds are found as the file; files only for a key that may read them.',
    scope: 'uploads:read',
    querystring: SearchQuery,
    response: { 200: { description: 'One page of results, best first.', schema: SearchResults } },
    errors: [422],
    handler: async (request) => search(db, principalOf(request), request.query.q, pageOf(request.query, SEARCH_KEYSET)),
  });
}
