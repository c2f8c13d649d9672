import type { components } from '../../packages/client/src/openapi.js';

/**
 * The shapes the console reads from the API: the SDK's, generated from GET /openapi.json, where the
 * document names them; the rest (answers the document describes inline) with only the fields shown.
 */
type Schemas = components['schemas'];
export type Upload = Schemas['Upload'];
export type Folder = Schemas['Folder'];
export type Part = Schemas['PartPublic'];
export type Revision = Schemas['PartRevisionPublic'];
export type DatasetLink = Schemas['DatasetLinkPublic'];

export interface Page<T> {
  count: number;
  count_capped?: boolean;
  data: T[];
  next_cursor: string | null;
}

export type UploadStatus = 'pending' | 'confirmed' | 'failed' | 'cancelled';

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
