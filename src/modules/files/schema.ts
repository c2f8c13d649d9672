import { SEARCH_COUNT_CAP } from '../../db/list-counts.js';
import { Type } from '@sinclair/typebox';
import { NullableTimestamp, Pagination, Timestamp, Uuid, listOf, nullable } from '../../http/schemas.js';

const Cid = Type.String({ description: 'A CIDv1 in base32.' });
const FreeProperties = Type.Record(Type.String(), Type.Unknown(), {
  description: 'Free properties, deep-merged on update: objects merge recursively, arrays and scalars replace.',
});

export const Relationship = Type.Object(
  {
    predicate: Type.String({ minLength: 1, maxLength: 200 }),
    peer: Type.String({ minLength: 1, maxLength: 200 }),
    peer_type: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
  },
  { additionalProperties: false },
);
const RelationshipRef = Type.Object(
  { predicate: Type.String({ minLength: 1, maxLength: 200 }), peer: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: true },
);

export const EditedBy = Type.Object({
  user_id: nullable(Type.String(), { description: 'The API key that made the version.' }),
  user_label: nullable(Type.String(), { description: "That key's label." }),
  method: Type.Union([Type.Literal('api'), Type.Literal('cli')]),
});

export const FileEntity = Type.Object(
  {
    id: Uuid,
    type: Type.Literal('file'),
    cid: nullable(Cid, { description: "The tip version's cid: CIDv1 dag-cbor sha2-256 of its record; null until the first content." }),
    ver: Type.Integer({ description: 'The tip version; 0 while the first content is awaited.' }),
    prev_cid: nullable(Cid, { description: "The previous version's cid; null on version 1." }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('ready')], {
      description: 'pending until the first content arrives, then ready.',
    }),
    folder_id: nullable(Uuid),
    properties: Type.Record(Type.String(), Type.Unknown(), {
      description: 'label, description, filename, content_type, size, sha256, content_cid, key, and free keys.',
    }),
    relationships: Type.Array(Relationship),
    created_at: Timestamp,
    ts: nullable(Type.Integer(), { description: 'When the tip version was made, epoch milliseconds (hashed into its cid).' }),
    edited_by: nullable(EditedBy),
    note: nullable(Type.String()),
    deleted_at: NullableTimestamp,
  },
  { $id: 'File', title: 'File' },
);
const FileRef = Type.Ref(FileEntity);
export { FileRef };

export const FileVersion = Type.Object({
  ver: Type.Integer(),
  cid: Cid,
  prev_cid: nullable(Cid),
  folder_id: nullable(Uuid),
  properties: Type.Record(Type.String(), Type.Unknown()),
  relationships: Type.Array(Relationship),
  edited_by: EditedBy,
  note: nullable(Type.String()),
  ts: Type.Integer({ description: 'Epoch milliseconds.' }),
});

export const FileList = Type.Composite([
  listOf(FileRef),
  Type.Object({
    count_capped: Type.Optional(
      Type.Boolean({
        description: `Present (true) when a \`q\` search matched more than ${SEARCH_COUNT_CAP.toLocaleString('en')} files: \`count\` stopped at ${SEARCH_COUNT_CAP.toLocaleString('en')}. Other lists count exactly.`,
      }),
    ),
  }),
]);
export const FileVersionList = listOf(FileVersion);

const Filename = Type.String({ minLength: 1, maxLength: 255 });
const ContentType = Type.String({ minLength: 1, maxLength: 255 });
const Size = Type.Integer({ minimum: 0, description: 'The byte count the content must have.' });
const Note = Type.String({ maxLength: 2000 });

export const FileCreate = Type.Object(
  {
    filename: Filename,
    content_type: ContentType,
    size: Size,
    key: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: 'Your name for the content; a content CID must match the bytes.' }),
    ),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Defaults to the filename.' })),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    properties: Type.Optional(FreeProperties),
    relationships: Type.Optional(Type.Array(Relationship, { maxItems: 1000 })),
    collection: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Shortcut for a `collection` relationship.' })),
    folder_id: Type.Optional(nullable(Uuid)),
    data_source_id: Type.Optional(
      Type.String({ description: 'A confirmed upload of your organisation: version 1 is made at once from its bytes.' }),
    ),
    note: Type.Optional(Note),
  },
  { additionalProperties: false },
);

const PropertiesRemove = Type.Union([Type.Array(Type.String()), Type.Record(Type.String(), Type.Unknown())], {
  description: 'Top-level names (`["old"]`) or a nested object of names (`{"config": {"options": ["debug"]}}`).',
});

export const FileUpdate = Type.Object(
  {
    expect_tip: nullable(Cid, { description: 'The cid you last saw; another answers 409 with `details: {expected, actual}`.' }),
    note: Type.Optional(Note),
    properties: Type.Optional(FreeProperties),
    properties_remove: Type.Optional(PropertiesRemove),
    relationships_add: Type.Optional(Type.Array(Relationship, { maxItems: 1000 })),
    relationships_remove: Type.Optional(Type.Array(RelationshipRef, { maxItems: 1000 })),
    filename: Type.Optional(Filename),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    folder_id: Type.Optional(nullable(Uuid)),
    data_source_id: Type.Optional(Type.String({ description: 'A confirmed upload whose bytes become the new content.' })),
  },
  { additionalProperties: false },
);

export const FileReupload = Type.Object(
  {
    expect_tip: nullable(Cid),
    content_type: ContentType,
    size: Size,
    filename: Type.Optional(Filename),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    note: Type.Optional(Note),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    data_source_id: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const FileParams = Type.Object({ file_id: Type.String({ description: 'The file id.' }) });
export const VersionQuery = Type.Object({
  ver: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'A version number; the tip when omitted.' })),
});
export const FileListQuery = Type.Composite([
  Pagination,
  Type.Object({
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Matches filename and label, case-insensitive.' })),
    folder_id: Type.Optional(Type.String({ description: 'Only files in this folder.' })),
    include_deleted: Type.Optional(Type.Boolean({ default: false, description: 'Include files in the trash.' })),
  }),
]);
export const PermanentQuery = Type.Object({
  permanent: Type.Optional(Type.Boolean({ default: false, description: 'Purge at once instead of the trash (admin only).' })),
});
export const DownloadUrl = Type.Object({ url: Type.String(), expires_in: Type.Integer() });
