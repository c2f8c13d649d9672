import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { pageOf } from '../../http/schemas.js';
import { FOLDERS_KEYSET } from './repo.js';
import { COUNT_CAP } from './repo.js';
import {
  Folder,
  FolderCreate,
  FolderDeleted,
  FolderList,
  FolderListQuery,
  FolderParams,
  FolderUpdate,
  MAX_DEPTH,
  MAX_NAME_LENGTH,
} from './schema.js';
import type { FolderService } from './service.js';

const FolderRef = Type.Ref(Folder);

const NAME_RULE =
  `A name is 1–${MAX_NAME_LENGTH} characters without slash, backslash or control characters, and not \`.\` or \`..\` (422); ` +
  `it is unique among its siblings (409 \`conflict\`, \`details.existing_folder_id\` names the folder holding it). ` +
  `Folders nest at most ${MAX_DEPTH} deep (422).`;

/** Folders (reference 004): nested, named uniquely among siblings, each answering its path. */
export async function folderRoutes(app: FastifyInstance, opts: { folders: FolderService }) {
  const { folders } = opts;
  const route = routesOf(app, { tags: ['folders'] });

  route.get('/', {
    operationId: 'listFolders',
    summary: 'List Folders',
    description:
      'The folders directly inside `parent_id`, by name then id. Without `parent_id`, the folders at the root ' +
      '(as an upload without `folder_id` lands at the root): walk the tree one level at a time.',
    scope: 'files:read',
    querystring: FolderListQuery,
    response: { 200: { description: 'One page of the folders at that level, with their total count.', schema: FolderList } },
    notFound: 'parent folder',
    errors: [422],
    handler: async (request) =>
      folders.list(principalOf(request), { parentId: request.query.parent_id, ...pageOf(request.query, FOLDERS_KEYSET) }),
  });

  route.post('/', {
    operationId: 'createFolder',
    summary: 'Create Folder',
    description: `Creates a folder in \`parent_id\`, or at the root without it. ${NAME_RULE}`,
    scope: 'files:write',
    body: FolderCreate,
    response: { 201: { description: 'The folder created, with its path.', schema: FolderRef } },
    notFound: 'parent folder',
    errors: [409, 422],
    handler: async (request, reply) => reply.code(201).send(await folders.create(principalOf(request), request.body)),
  });

  route.get('/:folder_id', {
    operationId: 'getFolder',
    summary: 'Get Folder',
    scope: 'files:read',
    params: FolderParams,
    response: { 200: { description: 'The folder, with its path.', schema: FolderRef } },
    notFound: 'folder',
    errors: [422],
    handler: async (request) => folders.get(principalOf(request), request.params.folder_id),
  });

  route.patch('/:folder_id', {
    operationId: 'updateFolder',
    summary: 'Update Folder',
    description:
      'Renames (`name`) and moves (`parent_id`; `null` moves it to the root) the folder, with everything in it. ' +
      `Moving a folder into itself or into a folder inside it is 422 naming \`body.parent_id\`. ${NAME_RULE}`,
    scope: 'files:write',
    params: FolderParams,
    body: FolderUpdate,
    response: { 200: { description: 'The folder as renamed or moved, with its new path.', schema: FolderRef } },
    notFound: 'folder (or parent folder)',
    errors: [409, 422],
    handler: async (request) => folders.update(principalOf(request), request.params.folder_id, request.body),
  });

  route.delete('/:folder_id', {
    operationId: 'deleteFolder',
    summary: 'Delete Folder',
    description:
      'Deletes an empty folder. A folder holding folders or files is 409 `conflict`, with `details` ' +
      `\`{folders, files, trashed_files}\` (each counted up to ${COUNT_CAP}): files in the trash still belong to ` +
      'their folder until they are purged, or recovered and moved.',
    scope: 'files:write',
    params: FolderParams,
    response: { 200: { description: 'The folder is deleted.', schema: FolderDeleted } },
    notFound: 'folder',
    errors: [409, 422],
    handler: async (request) => folders.delete(principalOf(request), request.params.folder_id),
  });
}
