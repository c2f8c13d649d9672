import { type Static, Type } from '@sinclair/typebox';
import { listOf, nullable, Pagination } from '../../http/schemas.js';
import { Attributes } from '../parts/schema.js';

export const DatasetParams = Type.Object({
  part_id: Type.String({ description: 'Identifier of the part.' }),
  revision_id: Type.String({ description: 'Identifier of the revision.' }),
  dataset_link_id: Type.String({ description: 'Identifier of the dataset link.' }),
});

const ROLE = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[a-z0-9][a-z0-9_]*$',
  description:
    'Role of the file on the revision (e.g. cad_3d for a 3D CAD model, drawing_2d for a 2D drawing); ' +
    'defaults from the file extension: cad_3d, drawing_2d, else other.',
});

export const DatasetLink = Type.Object(
  {
    attributes: Attributes('Free-form key/value metadata for the file attachment.'),
    content_type: nullable(Type.String(), { description: 'MIME type of the uploaded file (e.g. application/pdf); null while unknown.' }),
    created_at: Type.String({ format: 'date-time', description: 'Timestamp when the file was attached (UTC, ISO 8601).' }),
    data_source_id: Type.String({ format: 'uuid', description: 'ID of the underlying stored file this attachment points to.' }),
    filename: Type.String({ description: 'Original filename of the uploaded file.' }),
    id: Type.String({ format: 'uuid', description: 'Unique identifier of the uploaded file attached to the revision.' }),
    is_active: Type.Boolean({ description: 'Whether this is the current file; superseded re-uploads are marked inactive.' }),
    is_primary: Type.Boolean({ description: 'Whether this is the primary CAD file used for analysis on the revision.' }),
    part_revision_id: Type.String({ format: 'uuid', description: 'ID of the revision this file is attached to.' }),
    role: Type.String({ description: "The file's role on the revision (e.g. 3D CAD, 2D drawing, spec)." }),
    size_bytes: nullable(Type.Integer(), { description: 'Size of the uploaded file in bytes; null until the upload is confirmed.' }),
  },
  { $id: 'DatasetLinkPublic', title: 'DatasetLinkPublic' },
);

export const DatasetAttach = Type.Object(
  {
    attributes: Type.Optional(Attributes('Free-form metadata for the attachment, as a JSON object.')),
    data_source_id: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Identifier of the uploaded data source to attach to the revision.',
    }),
    is_primary: Type.Optional(Type.Boolean({ description: 'Whether this dataset is the primary one for the revision.' })),
    role: Type.Optional(ROLE),
  },
  { additionalProperties: false },
);
export type DatasetAttach = Static<typeof DatasetAttach>;

export const DatasetUpdate = Type.Object(
  {
    filename: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'New original filename for the uploaded file.' })),
    is_primary: Type.Optional(
      Type.Boolean({
        description:
          'Set true to make this the primary CAD file for analysis on the revision (the others are demoted); ' +
          'false on the primary is 409 (promote another dataset instead); false on any other is a no-op.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type DatasetUpdate = Static<typeof DatasetUpdate>;

export const DatasetListQuery = Type.Composite([
  Type.Object({
    include_inactive: Type.Optional(Type.Boolean({ default: false, description: 'Include superseded (inactive) links.' })),
  }),
  Pagination,
]);

export const DatasetUploadQuery = Type.Object({
  role: Type.Optional(ROLE),
  is_primary: Type.Optional(Type.Boolean({ description: 'Whether this dataset becomes the primary one on the revision.' })),
});

export const DatasetList = listOf(Type.Ref('DatasetLinkPublic'));
