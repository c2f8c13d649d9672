import { type Static, Type } from '@sinclair/typebox';
import { listOf, nullable, Pagination } from '../../http/schemas.js';
import { Attributes } from '../parts/schema.js';

export const RevisionParams = Type.Object({
  part_id: Type.String({ description: 'Identifier of the part.' }),
  revision_id: Type.String({ description: 'Identifier of the revision.' }),
});

const REVISION_CODE = Type.String({ minLength: 1, maxLength: 64, description: 'Customer-facing revision label (A, B, 01, 02, …).' });
const PARENT = nullable(Type.String({ format: 'uuid' }), {
  description: 'ID of the revision this one was derived from, recording its lineage.',
});
const CHANGE_REQUEST = nullable(Type.String({ minLength: 1, maxLength: 255 }), {
  description: 'ID of the change request that triggered this revision, if any.',
});

export const PartRevision = Type.Object(
  {
    attributes: Attributes('Free-form key/value metadata for the revision.'),
    change_request_id: CHANGE_REQUEST,
    created_at: Type.String({ format: 'date-time', description: 'Timestamp when the revision was created (UTC, ISO 8601).' }),
    id: Type.String({ format: 'uuid', description: 'Unique identifier of the revision.' }),
    parent_revision_id: PARENT,
    part_id: Type.String({ format: 'uuid', description: 'ID of the part this revision belongs to.' }),
    revision_code: REVISION_CODE,
    updated_at: Type.String({ format: 'date-time', description: 'Timestamp when the revision was last updated (UTC, ISO 8601).' }),
  },
  { $id: 'PartRevisionPublic', title: 'PartRevisionPublic' },
);

export const RevisionCreate = Type.Object(
  {
    attributes: Type.Optional(Attributes('Free-form key/value metadata for the revision.')),
    change_request_id: Type.Optional(CHANGE_REQUEST),
    parent_revision_id: Type.Optional(PARENT),
    revision_code: REVISION_CODE,
  },
  { additionalProperties: false },
);
export type RevisionCreate = Static<typeof RevisionCreate>;

export const RevisionUpdate = Type.Object(
  {
    attributes: Type.Optional(
      Attributes('Free-form metadata to merge onto the revision, as a JSON object: top-level keys replace, a key set to null is removed.'),
    ),
  },
  { additionalProperties: false },
);
export type RevisionUpdate = Static<typeof RevisionUpdate>;

export const RevisionListQuery = Pagination;
export const RevisionList = listOf(Type.Ref('PartRevisionPublic'));
