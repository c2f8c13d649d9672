import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { routesOf } from '../../http/route.js';
import { pageOf, Pagination } from '../../http/schemas.js';
import { FILES_KEYSET, VERSIONS_KEYSET } from './repo.js';
import {
  DownloadUrl,
  FileCreate,
  FileList,
  FileListQuery,
  FileParams,
  FileRef,
  FileReupload,
  FileUpdate,
  FileVersionList,
  PermanentQuery,
  VersionQuery,
} from './schema.js';
import type { FileContent } from './content.js';
import type { FilesService } from './service.js';
import type { FileTrash } from './trash.js';
import { Message } from '../parts/schema.js';

const CAS = 'A conflict (409, `details: {expected, actual}`) when `expect_tip` is not the current cid; nothing changes then.';

/** Files and their versions (reference 002's file entities, with folders and trash from 004). */
export async function fileRoutes(
  app: FastifyInstance,
  opts: { files: FilesService; content: FileContent; trash: FileTrash; publicUrl: string | null },
) {
  const { files, content, trash, publicUrl } = opts;
  const route = routesOf(app, { tags: ['files'] });

  route.post('/', {
    operationId: 'createFile',
    summary: 'Create File',
    description:
      'With `data_source_id` (a confirmed upload of your organisation) version 1 is made at once from its bytes. ' +
      'Without it the file is `pending` (`ver` 0, `cid` null) until exactly `size` bytes arrive at `POST /api/v1/files/{file_id}/content`.',
    scope: 'files:write',
    body: FileCreate,
    response: { 201: { description: 'The file: version 1, or pending its content.', schema: FileRef } },
    notFound: 'folder or upload',
    errors: [409, 413, 422],
    handler: async (request, reply) => reply.code(201).send(await files.create(principalOf(request), request.body)),
  });

  route.get('/', {
    operationId: 'listFiles',
    summary: 'List Files',
    description: 'Newest first; `q` matches filename and label, case-insensitive; files in the trash only with `include_deleted=true`.',
    scope: 'files:read',
    querystring: FileListQuery,
    response: { 200: { description: 'One page of files (their tips), with the total count.', schema: FileList } },
    notFound: 'folder',
    errors: [422],
    handler: async (request) => {
      const { q, folder_id, include_deleted } = request.query;
      return files.list(principalOf(request), { q, folder_id, include_deleted, ...pageOf(request.query, FILES_KEYSET) });
    },
  });

  route.get('/:file_id', {
    operationId: 'getFile',
    summary: 'Get File',
    description: 'The tip version as an entity; a file in the trash answers too, with its `deleted_at`.',
    scope: 'files:read',
    params: FileParams,
    response: { 200: { description: 'The file at its tip.', schema: FileRef } },
    notFound: 'file',
    handler: async (request) => files.get(principalOf(request), request.params.file_id),
  });

  route.put('/:file_id', {
    operationId: 'updateFile',
    summary: 'Update File',
    description:
      'Makes the next version. `properties` deep-merge (objects recursively; arrays and scalars replace), `properties_remove` ' +
      'takes names or a nested object of names, `relationships_add` upserts by (predicate, peer). ' +
      CAS,
    scope: 'files:write',
    params: FileParams,
    body: FileUpdate,
    response: { 200: { description: 'The file at its new version.', schema: FileRef } },
    notFound: 'file, folder or upload',
    errors: [409, 413, 422],
    handler: async (request) => files.update(principalOf(request), request.params.file_id, request.body),
  });

  route.post('/:file_id/reupload', {
    operationId: 'reuploadFile',
    summary: 'Reupload File',
    description:
      'Declares new content: made into version `ver+1` at once from `data_source_id`, else when its bytes arrive at ' +
      '`POST /api/v1/files/{file_id}/content`. ' +
      CAS,
    scope: 'files:write',
    params: FileParams,
    body: FileReupload,
    response: { 200: { description: 'The file: at its new version, or awaiting the declared content.', schema: FileRef } },
    notFound: 'file or upload',
    errors: [409, 413, 422],
    handler: async (request) => files.reupload(principalOf(request), request.params.file_id, request.body),
  });

  route.get('/:file_id/versions', {
    operationId: 'listFileVersions',
    summary: 'List File Versions',
    description: 'Newest first; each with its cid and prev_cid, so the chain can be followed and re-verified.',
    scope: 'files:read',
    params: FileParams,
    querystring: Pagination,
    response: { 200: { description: 'One page of versions, with their total count.', schema: FileVersionList } },
    notFound: 'file',
    errors: [422],
    handler: async (request) => files.versions(principalOf(request), request.params.file_id, pageOf(request.query, VERSIONS_KEYSET)),
  });

  route.delete('/:file_id', {
    operationId: 'deleteFile',
    summary: 'Delete File',
    description:
      'Moves the file to the trash: hidden from lists, its content and download URLs 404, recoverable until the sweeper purges it ' +
      '(`STOWAGE_TRASH_RETENTION_DAYS`, default 30). `?permanent=true` (admin) purges it at once with its versions, and frees ' +
      'the bytes no other upload, version or dataset link still uses. Deleting a deleted file changes nothing.',
    scope: 'files:write',
    params: FileParams,
    querystring: PermanentQuery,
    response: {
      200: {
        description: 'The file, now in the trash (`deleted_at` set); or a message when purged.',
        schema: Type.Union([FileRef, Message]),
      },
    },
    notFound: 'file',
    errors: [422],
    handler: async (request) => trash.delete(principalOf(request), request.params.file_id, { permanent: request.query.permanent ?? false }),
  });

  route.post('/:file_id/recover', {
    operationId: 'recoverFile',
    summary: 'Recover File',
    description: 'Takes the file out of the trash, as it was; a file not in the trash is answered unchanged.',
    scope: 'files:write',
    params: FileParams,
    response: { 200: { description: 'The file, live again.', schema: FileRef } },
    notFound: 'file',
    handler: async (request) => trash.recover(principalOf(request), request.params.file_id),
  });

  route.get('/:file_id/download-url', {
    operationId: 'getFileDownloadUrl',
    summary: 'File Download Url',
    description: 'A short-lived URL to the bytes of the tip, or of version `ver`; 404 for a file in the trash.',
    scope: 'files:read',
    params: FileParams,
    querystring: VersionQuery,
    response: { 200: { description: 'A signed URL that serves the bytes until it expires.', schema: DownloadUrl } },
    notFound: 'file, version or content',
    errors: [422],
    handler: async (request) =>
      content.downloadUrl(principalOf(request), request.params.file_id, request.query.ver, baseUrlOf(request, publicUrl)),
  });
}
