import { Type } from '@sinclair/typebox';
import { NullableTimestamp, Pagination, Sha256Hex, Timestamp, Uuid, listOf, nullable } from '../../http/schemas.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const UploadStatus = Type.Union([Type.Literal('pending'), Type.Literal('confirmed'), Type.Literal('failed'), Type.Literal('cancelled')], {
  description: 'Upload lifecycle state: pending, confirmed, failed, or cancelled.',
});

export const Upload = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Unique identifier of the uploaded data source.' }),
    name: Type.String({ description: 'Original filename of the uploaded file.' }),
    content_type: Nullable(Type.String({ description: "MIME type of the file (e.g. 'application/pdf'); null if unknown." })),
    sha256: Nullable(Type.String({ description: 'Hex-encoded SHA-256 checksum of the file; null until confirmed.' })),
    size_bytes: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Size of the file in bytes; null until the upload is confirmed.',
    }),
    status: UploadStatus,
    created_at: Timestamp,
    updated_at: Timestamp,
    confirmed_at: NullableTimestamp,
    failure_reason: Nullable(Type.String({ description: 'object_missing, size_mismatch, checksum_mismatch or type_refused.' })),
    detected_content_type: Nullable(Type.String({ description: 'MIME type sniffed from the bytes at confirm.' })),
    deduplicated: Type.Boolean({ description: 'True when the bytes were already stored for this org and are shared, not uploaded again.' }),
    folder_id: nullable(Uuid, { description: 'The folder named at presign, whose file confirming makes.' }),
    file_id: nullable(Uuid, { description: 'The file confirming this upload made (with folder_id); null before, or without a folder.' }),
    deleted_at: NullableTimestamp,
  },
  { $id: 'Upload', title: 'Upload' },
);

const MAX_NAME = 1024;

export const PresignRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: MAX_NAME, description: 'Original filename of the file to upload.' }),
    content_type: Type.Optional(
      nullable(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\w.+-]+/[\\w.+-]+' }), {
        description: 'MIME type of the file (e.g. application/pdf).',
      }),
    ),
    size_bytes: Type.Optional(nullable(Type.Integer({ minimum: 0 }), { description: 'Size of the file in bytes, if known.' })),
    sha256: Type.Optional(nullable(Sha256Hex, { description: 'SHA-256 the bytes must have; storage refuses others.' })),
    folder_id: Type.Optional(
      nullable(Uuid, { description: 'A folder of yours: confirming the upload also makes version 1 of a file there. Omit it for none.' }),
    ),
  },
  { additionalProperties: false },
);

export const PresignResponse = Type.Object({
  data_source_id: Type.String({ description: 'Identifier of the data source record; pass it to /uploads/confirm.' }),
  url: Type.Union([Type.String(), Type.Null()], {
    description: 'Presigned URL the client uploads the file bytes to; null when deduplicated.',
  }),
  method: Type.Union([Type.String(), Type.Null()], {
    description: 'HTTP method to use against url (typically PUT or POST); null when deduplicated.',
  }),
  headers: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
    description: 'Headers that must be sent with the upload request; null if none.',
  }),
  fields: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
    description: 'Form fields to include for a multipart POST upload; null if none.',
  }),
  expires_in: Type.Integer({ description: 'Seconds until the presigned URL expires.' }),
  deduplicated: Type.Boolean({
    description:
      'True when these bytes (declared sha256) are already stored for the org: the upload is confirmed at once and nothing is to be sent.',
  }),
});

export const PresignBatchRequest = Type.Object(
  { files: Type.Array(PresignRequest, { minItems: 1, maxItems: 100 }) },
  { additionalProperties: false },
);
export const PresignBatchResponse = Type.Object({ files: Type.Array(PresignResponse) });

export const ConfirmRequest = Type.Object(
  { data_source_id: Type.String({ minLength: 1, maxLength: 64, description: 'UUID of the presigned upload to validate and ingest.' }) },
  { additionalProperties: false },
);
export const ConfirmResponse = Type.Object({
  job_id: Type.String({ description: 'Identifier of the background job validating and ingesting the file.' }),
});

export const BulkRequest = Type.Object(
  {
    ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      minItems: 1,
      maxItems: 100,
      description: 'Upload (data source) IDs to cancel or retry in bulk.',
    }),
  },
  { additionalProperties: false },
);
export const BulkResponse = Type.Object({
  cancelled: Type.Array(Type.String(), { description: 'Upload IDs that were successfully cancelled.' }),
  retried: Type.Array(Type.String(), { description: 'Upload IDs that were successfully re-queued for confirmation.' }),
  skipped: Type.Array(Type.Object({ id: Type.String(), reason: Type.String() }), {
    description: 'Uploads that were skipped, each as {id, reason}: not_found, is_confirmed, is_failed, is_cancelled, is_pending.',
  }),
});

export const ListQuery = Type.Composite([
  Type.Object({
    include_cancelled: Type.Optional(
      Type.Boolean({ default: false, description: 'Include cancelled uploads in the list (hidden by default; needs admin).' }),
    ),
    status: Type.Optional(UploadStatus),
    include_deleted: Type.Optional(Type.Boolean({ default: false, description: 'Include uploads in the trash (hidden by default).' })),
  }),
  Pagination,
]);
export const UploadList = listOf(Type.Ref('Upload'));

export const IdParams = Type.Object({ data_source_id: Type.String({ description: 'Identifier of the data source.' }) });

export const DownloadUrlResponse = Type.Object({
  url: Type.String({ description: 'Short-lived presigned URL to download the confirmed file.' }),
  expires_in: Type.Integer({ description: 'Seconds until the URL expires.' }),
});

export const SummaryResponse = Type.Object({
  total_count: Type.Integer(),
  total_bytes: Type.Integer({ description: 'Sum of confirmed sizes.' }),
  by_status: Type.Record(Type.String(), Type.Integer()),
  by_content_type: Type.Record(Type.String(), Type.Integer()),
  used_bytes: Type.Integer({
    description: 'Bytes held against the storage quota: confirmed uploads whose bytes are not purged (the trash included).',
  }),
  pending_bytes: Type.Integer({ description: 'Declared sizes of pending uploads: held against the quota until they confirm or fail.' }),
  quota_bytes: nullable(Type.Integer(), { description: "The organisation's storage quota (content policy); null for none." }),
  available_bytes: nullable(Type.Integer(), {
    description: 'What is left under the quota: quota_bytes − used_bytes − pending_bytes, never below 0; null without a quota.',
  }),
});

export const Job = Type.Object({
  id: Uuid,
  kind: Type.String(),
  status: Type.Union(['queued', 'running', 'succeeded', 'failed'].map((s) => Type.Literal(s))),
  attempts: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  finished_at: NullableTimestamp,
});

export const MultipartStartRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: MAX_NAME, description: 'Original filename.' }),
    size_bytes: Type.Integer({ minimum: 1, description: 'Exact size of the whole file.' }),
    content_type: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\w.+-]+/[\\w.+-]+' }))),
    part_size: Type.Optional(
      nullable(Type.Integer({ minimum: 1 }), {
        description: 'Bytes per part (5 MiB–5 GiB, at most 10,000 parts); default 16 MiB or what 10,000 parts need.',
      }),
    ),
    sha256: Type.Optional(nullable(Sha256Hex, { description: 'SHA-256 of the whole file, checked by the confirm job.' })),
    folder_id: Type.Optional(
      nullable(Uuid, { description: 'A folder of yours: confirming the upload also makes version 1 of a file there. Omit it for none.' }),
    ),
  },
  { additionalProperties: false },
);
export const MultipartStartResponse = Type.Object({
  data_source_id: Type.String(),
  part_size: Type.Integer({ description: 'Every part is this size except the last, which holds the rest.' }),
  part_count: Type.Integer({ description: 'Parts to upload (0 when deduplicated).' }),
  expires_in: Type.Integer({ description: 'Seconds the upload waits for its parts before the sweeper aborts it.' }),
  deduplicated: Type.Boolean(),
});
export const PartNumbersRequest = Type.Object(
  { part_numbers: Type.Array(Type.Integer({ minimum: 1, maximum: 10000 }), { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export const PartUrlsResponse = Type.Object({
  parts: Type.Array(
    Type.Object({
      part_number: Type.Integer(),
      url: Type.String(),
      method: Type.String(),
      headers: Type.Record(Type.String(), Type.String(), { description: 'Headers to send with the part (Content-Length is signed).' }),
    }),
  ),
  expires_in: Type.Integer(),
});
export const StoredPartsResponse = Type.Object({
  parts: Type.Array(Type.Object({ part_number: Type.Integer(), etag: Type.String(), size_bytes: Type.Integer() })),
  part_size: Type.Integer({ description: 'Bytes of every part but the last.' }),
  part_count: Type.Integer(),
});
export const CompleteRequest = Type.Object(
  {
    parts: Type.Array(
      Type.Object(
        { part_number: Type.Integer({ minimum: 1, maximum: 10000 }), etag: Type.String({ minLength: 1, maxLength: 200 }) },
        { additionalProperties: false },
      ),
      {
        minItems: 1,
        maxItems: 10000,
      },
    ),
    sha256: Type.Optional(
      nullable(Sha256Hex, {
        description:
          'SHA-256 of the whole file, when it was not declared at start (hashed while the parts went out): the confirm job checks it as it would one declared at start.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const DeclareSha256Request = Type.Object({ sha256: Sha256Hex }, { additionalProperties: false });
