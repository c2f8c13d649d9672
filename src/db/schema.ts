import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { ReadingKind } from '../readings/reading.js';

/** Row types of the tables in migrations/, as Kysely sees them. */
export interface Database {
  orgs: OrgTable;
  api_keys: ApiKeyTable;
  jobs: JobTable;
  uploads: UploadTable;
  idempotency_keys: IdempotencyKeyTable;
  sweeper_cursors: SweeperCursorTable;
  parts: PartTable;
  part_revisions: PartRevisionTable;
  dataset_links: DatasetLinkTable;
  previews: PreviewTable;
  folders: FolderTable;
  files: FileTable;
  file_versions: FileVersionTable;
  list_counts: ListCountTable;
  readings: ReadingTable;
  reading_chunks: ReadingChunkTable;
  webhooks: WebhookTable;
  webhook_events: WebhookEventTable;
  webhook_event_sequences: WebhookEventSequenceTable;
  webhook_deliveries: WebhookDeliveryTable;
  content_policies: ContentPolicyTable;
  upload_usage: UploadUsageTable;
  tus_uploads: TusUploadTable;
}

export type ReadingStatus = 'pending' | 'ready' | 'failed';

export interface ReadingTable {
  id: string;
  org_id: string;
  upload_id: string;
  kind: ReadingKind;
  status: Generated<ReadingStatus>;
  job_id: string;
  content: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  edited_content: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  error: ColumnType<{ reason: string; message: string } | null, string | null | undefined, string | null>;
  thumbnail_key: string | null;
  thumbnail_type: string | null;
  thumbnail_size: BigIntColumn;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type ReadingRow = Selectable<ReadingTable>;

export interface ReadingChunkTable {
  reading_id: string;
  chunk: number;
  org_id: string;
  upload_id: string;
  body: string;
}

/** Written only by the counting triggers of migration 0012; read through db/list-counts.ts. */
export interface ListCountTable {
  org_id: string;
  list: string;
  scope: string;
  shard: number;
  n: ColumnType<string, number | string, number | string>;
}

export interface SweeperCursorTable {
  name: string;
  position: string;
  updated_at: Generated<Date>;
}

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint columns come back from pg as strings; we convert them where they leave the repo. */
type BigIntColumn = ColumnType<string | null, number | bigint | string | null | undefined, number | bigint | string | null>;

export interface OrgTable {
  id: string;
  name: string;
  created_at: Generated<Date>;
}

export interface ApiKeyTable {
  id: string;
  org_id: string;
  prefix: string;
  secret_hash: Buffer;
  scopes: string[];
  label: string | null;
  created_at: Generated<Date>;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface JobTable {
  id: string;
  org_id: string;
  kind: string;
  subject_id: string;
  status: Generated<JobStatus>;
  attempts: Generated<number>;
  error: string | null;
  created_at: Generated<Date>;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

export type UploadStatus = 'pending' | 'confirmed' | 'failed' | 'cancelled';

export interface UploadTable {
  id: string;
  org_id: string;
  name: string;
  content_type: string | null;
  declared_size: BigIntColumn;
  declared_sha256: string | null;
  size_bytes: BigIntColumn;
  sha256: string | null;
  detected_content_type: string | null;
  status: Generated<UploadStatus>;
  failure_reason: string | null;
  blob_key: string;
  confirm_job_id: string | null;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
  confirmed_at: NullableTimestamp;
  expires_at: Timestamp;
  deduplicated: Generated<boolean>;
  blob_purged_at: NullableTimestamp;
  multipart_upload_id: string | null;
  part_size: BigIntColumn;
  part_count: number | null;
  /** The folder whose file confirming this upload makes; the file it made. */
  folder_id: string | null;
  file_id: string | null;
  /** In the trash since; null while live. */
  deleted_at: NullableTimestamp;
}

export interface IdempotencyKeyTable {
  org_id: string;
  key: string;
  method: string;
  path: string;
  body_hash: string;
  state: 'in_flight' | 'done';
  response_status: number | null;
  response_body: string | null;
  response_type: string | null;
  /** The answer carried a secret, kept out of response_body: a replay is refused instead. */
  secret_withheld: Generated<boolean>;
  created_at: Generated<Date>;
  expires_at: Timestamp;
}

export type UploadRow = Selectable<UploadTable>;
export type NewUpload = Insertable<UploadTable>;
export type JobRow = Selectable<JobTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;

/** jsonb objects: written as JSON text, read back parsed. */
export type Attributes = Record<string, unknown>;
type AttributesColumn = ColumnType<Attributes, string | undefined, string>;

export interface PartTable {
  id: string;
  org_id: string;
  part_number: string;
  description: string | null;
  classification_id: string | null;
  make_or_buy: 'make' | 'buy' | null;
  procurement_type: 'in_house' | 'external' | 'both' | null;
  base_uom: Generated<string>;
  default_currency: string | null;
  lead_time_days: number | null;
  attributes: AttributesColumn;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface PartRevisionTable {
  id: string;
  org_id: string;
  part_id: string;
  revision_code: string;
  parent_revision_id: string | null;
  change_request_id: string | null;
  attributes: AttributesColumn;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface DatasetLinkTable {
  id: string;
  org_id: string;
  part_revision_id: string;
  upload_id: string;
  role: string;
  is_primary: Generated<boolean>;
  is_active: Generated<boolean>;
  attributes: AttributesColumn;
  created_at: Generated<Date>;
  updated_at: Timestamp;
  superseded_at: NullableTimestamp;
}

export type PartRow = Selectable<PartTable>;
export type PartRevisionRow = Selectable<PartRevisionTable>;
export type DatasetLinkRow = Selectable<DatasetLinkTable>;

export interface PreviewTable {
  upload_id: string;
  org_id: string;
  status: Generated<'pending' | 'ok' | 'failed'>;
  job_id: string;
  blob_key: string | null;
  size_bytes: BigIntColumn;
  failure_reason: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export type PreviewRow = Selectable<PreviewTable>;

export interface FolderTable {
  id: string;
  org_id: string;
  parent_id: string | null;
  name: string;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export type FileStatus = 'pending' | 'ready';

/** Who made a version, as the version record (and its cid) holds it. */
export interface EditedBy {
  user_id: string | null;
  user_label: string | null;
  method: 'api' | 'cli';
}

export interface Relationship {
  predicate: string;
  peer: string;
  peer_type: string | null;
}

export interface FileTable {
  id: string;
  org_id: string;
  folder_id: string | null;
  status: FileStatus;
  ver: Generated<number>;
  cid: string | null;
  filename: string;
  label: string;
  pending_content: ColumnType<Attributes | null, string | null | undefined, string | null>;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface FileVersionTable {
  file_id: string;
  ver: number;
  org_id: string;
  cid: string;
  prev_cid: string | null;
  /** Epoch milliseconds; pg returns bigint as text. */
  ts: ColumnType<string, number | string, number | string>;
  edited_by: ColumnType<EditedBy, string, string>;
  note: string | null;
  properties: ColumnType<Attributes, string, string>;
  relationships: ColumnType<Relationship[], string, string>;
  folder_id: string | null;
  upload_id: string;
  created_at: Generated<Date>;
}

export type FolderRow = Selectable<FolderTable>;
export type FileRow = Selectable<FileTable>;
export type FileVersionRow = Selectable<FileVersionTable>;

export interface WebhookTable {
  id: string;
  org_id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: NullableTimestamp;
  failing_since: NullableTimestamp;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface WebhookEventTable {
  id: string;
  org_id: string;
  type: string;
  subject_id: string;
  /** bigint: pg returns it as text. */
  sequence: ColumnType<string, number | string, number | string>;
  data: ColumnType<Record<string, unknown>, string, string>;
  created_at: Generated<Date>;
}

export interface WebhookEventSequenceTable {
  subject_id: string;
  n: ColumnType<string, number | string, number | string>;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDeliveryTable {
  id: string;
  org_id: string;
  webhook_id: string;
  event_id: string;
  status: Generated<WebhookDeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: Generated<Date>;
  last_attempt_at: NullableTimestamp;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type WebhookRow = Selectable<WebhookTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;

/** What the tus protocol adds to an upload made through /api/v1/tus (migration 0022). */
export interface TusUploadTable {
  upload_id: string;
  upload_offset: ColumnType<string, number | string | undefined, number | string>;
  upload_metadata: string | null;
  tail_key: string | null;
  writer: string | null;
  writer_until: NullableTimestamp;
}

export type TusUploadRow = Selectable<TusUploadTable>;

/** An org's content policy (migration 0014); no row: the server's default. */
export interface ContentPolicyTable {
  org_id: string;
  /** null: any type not refused. */
  allowed_content_types: string[] | null;
  /** null: the server's default list (config.refusedContentTypes). */
  refused_content_types: string[] | null;
  max_upload_bytes: BigIntColumn;
  quota_bytes: BigIntColumn;
  updated_at: Generated<Date>;
}

export type ContentPolicyRow = Selectable<ContentPolicyTable>;

/** Written only by the byte-counting triggers of migration 0014; read through modules/uploads/usage.ts. */
export interface UploadUsageTable {
  org_id: string;
  shard: number;
  confirmed_bytes: ColumnType<string, number | string, number | string>;
  pending_bytes: ColumnType<string, number | string, number | string>;
}
