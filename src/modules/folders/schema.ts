import { type Static, Type } from '@sinclair/typebox';
import { Pagination, listOf, nullable } from '../../http/schemas.js';

/** How deep folders nest: a folder at the root is at depth 1, so a path holds at most this many names. */
export const MAX_DEPTH = 64;
export const MAX_NAME_LENGTH = 255;

const FOLDER_ID_EXAMPLE = '0192f4a1-7c3e-7d2a-9b61-3f0e8a5c2d10';
const PARENT_ID_EXAMPLE = '0192f4a0-11aa-7b3c-8d4e-5f6a7b8c9d0e';

const NAME = Type.String({
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  description: `Folder name, unique among its siblings: 1–${MAX_NAME_LENGTH} characters, surrounding blanks dropped; no slash, backslash or control character, and not \`.\` or \`..\`.`,
  examples: ['drawings'],
});

const PARENT_ID = nullable(Type.String({ format: 'uuid' }), {
  description: 'The folder this one is in; `null` for a folder at the root.',
  examples: [PARENT_ID_EXAMPLE],
});

export const Folder = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Identifier of the folder.', examples: [FOLDER_ID_EXAMPLE] }),
    name: NAME,
    parent_id: PARENT_ID,
    path: Type.String({
      description: 'The names from the root down to this folder, each after a `/` (`/projects/drawings`).',
      examples: ['/projects/drawings'],
    }),
    created_at: Type.String({ format: 'date-time', description: 'When the folder was created (UTC, ISO 8601).' }),
    updated_at: Type.String({ format: 'date-time', description: 'When the folder was last renamed or moved (UTC, ISO 8601).' }),
  },
  { $id: 'Folder', title: 'Folder' },
);

export const FolderParams = Type.Object({ folder_id: Type.String({ description: 'Identifier of the folder.' }) });

export const FolderCreate = Type.Object(
  {
    name: NAME,
    parent_id: Type.Optional(
      nullable(Type.String({ format: 'uuid' }), {
        description: 'The folder to create it in; omitted or `null`: at the root.',
        examples: [PARENT_ID_EXAMPLE],
      }),
    ),
  },
  { additionalProperties: false, examples: [{ name: 'drawings', parent_id: PARENT_ID_EXAMPLE }] },
);
export type FolderCreate = Static<typeof FolderCreate>;

export const FolderUpdate = Type.Object(
  {
    name: Type.Optional(NAME),
    parent_id: Type.Optional(
      nullable(Type.String({ format: 'uuid' }), {
        description: 'Moves the folder, with everything in it, into this folder; `null` moves it to the root.',
        examples: [PARENT_ID_EXAMPLE],
      }),
    ),
  },
  { additionalProperties: false, examples: [{ name: 'drawings-2026' }, { parent_id: null }] },
);
export type FolderUpdate = Static<typeof FolderUpdate>;

export const FolderListQuery = Type.Composite([
  Type.Object({
    parent_id: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'List the folders directly inside this one; omitted: the folders at the root.',
        examples: [PARENT_ID_EXAMPLE],
      }),
    ),
  }),
  Pagination,
]);

export const FolderList = listOf(Type.Ref('Folder'));

export const FolderDeleted = Type.Object({
  message: Type.String({
    description: 'Human-readable confirmation that the folder was deleted.',
    examples: ['folder /projects/old deleted'],
  }),
});
