/** The shapes the console reads from the API (see GET /openapi.json); only the fields it shows. */

export interface Page<T> {
  count: number;
  count_capped?: boolean;
  data: T[];
  next_cursor: string | null;
}

export type UploadStatus = 'pending' | 'confirmed' | 'failed' | 'cancelled';

export interface Upload {
  id: string;
  name: string;
  content_type: string | null;
  detected_content_type: string | null;
  size_bytes: number | null;
  status: UploadStatus;
  failure_reason: string | null;
  created_at: string;
  folder_id: string | null;
  file_id: string | null;
  deleted_at: string | null;
}

export interface Folder {
  id: string;
  name: string;
  parent_id: string | null;
  path: string;
}

export interface StoredFile {
  id: string;
  ver: number;
  cid: string | null;
  status: 'pending' | 'ready';
  folder_id: string | null;
  properties: { filename: string; label?: string; content_type?: string; size?: number; [name: string]: unknown };
  created_at: string;
  ts: number | null;
  note: string | null;
  deleted_at: string | null;
}

export interface FileVersion {
  ver: number;
  cid: string;
  prev_cid: string | null;
  properties: StoredFile['properties'];
  edited_by: { user_label: string | null } | null;
  note: string | null;
  ts: number;
}

export interface Part {
  id: string;
  part_number: string;
  description: string | null;
  created_at: string;
}

export interface Revision {
  id: string;
  revision_code: string;
  created_at: string;
}

export interface DatasetLink {
  id: string;
  data_source_id: string;
  filename: string;
  role: string;
  is_primary: boolean;
  is_active: boolean;
  size_bytes: number | null;
  content_type: string | null;
}

export interface Preview {
  data_source_id: string | null;
  status: 'ok' | 'pending' | 'failed' | 'no_dataset';
  url: string | null;
  reason: string | null;
}

export interface Reading {
  id: string;
  data_source_id: string;
  file_id: string | null;
  kind: string;
  status: 'pending' | 'ready' | 'failed';
  content: Record<string, unknown> | null;
  edited_content: Record<string, unknown> | null;
  error: { reason: string; message: string } | null;
  has_thumbnail: boolean;
  created_at: string;
}

export interface SearchHit {
  kind: 'upload' | 'file';
  id: string;
  data_source_id: string | null;
  name: string;
  rank: number;
  snippet: string | null;
}
