import type { Readable } from 'node:stream';
import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Page } from '../../db/keyset.js';
import type { ReadingRow, ReadingStatus } from '../../db/schema.js';
import { conflict, notFound } from '../../errors.js';
import type { ReadingKind } from '../../readings/reading.js';
import type { ModuleDeps } from '../module.js';
import { requestPreviews } from '../previews/request.js';
import { readingsRepo } from './repo.js';
import { requestReadings } from './request.js';
import { thumbnailOf } from './thumbnail.js';

/** The steps of the pipeline a client may run again. */
export type UploadEvent = 'PROCESS_DOCUMENT' | 'GENERATE_PREVIEW';

export function readingView(row: ReadingRow, fileId: string | null) {
  return {
    id: row.id,
    data_source_id: row.upload_id,
    file_id: fileId,
    kind: row.kind,
    status: row.status,
    content: row.content,
    edited_content: row.edited_content,
    error: row.error,
    has_thumbnail: row.thumbnail_key !== null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export interface ReadingListOptions extends Page {
  data_source_id?: string;
  file_id?: string;
  kind?: ReadingKind;
  status?: ReadingStatus;
}

/** Readings as clients see, correct and re-run them. */
export class ReadingService {
  constructor(private readonly deps: ModuleDeps) {}

  async list(caller: Caller, options: ReadingListOptions) {
    const db = this.deps.db;
    let uploadIds: string[] | undefined;
    if (options.data_source_id) uploadIds = [(await findOwned(db, caller, 'upload', options.data_source_id)).id];
    if (options.file_id) {
      const fileUploads = await readingsRepo.uploadsOfFile(db, caller.orgId, (await findOwned(db, caller, 'file', options.file_id)).id);
      uploadIds = uploadIds ? uploadIds.filter((id) => fileUploads.includes(id)) : fileUploads;
    }
    const { rows, count, nextCursor } = await readingsRepo.list(
      db,
      caller.orgId,
      { uploadIds, kind: options.kind, status: options.status },
      { limit: options.limit, offset: options.offset, after: options.after },
    );
    return { count, data: await this.views(rows), next_cursor: nextCursor };
  }

  async get(caller: Caller, id: string) {
    const row = await findOwned(this.deps.db, caller, 'reading', id);
    return (await this.views([row]))[0];
  }

  async edit(caller: Caller, id: string, content: Record<string, unknown>) {
    const row = await findOwned(this.deps.db, caller, 'reading', id);
    if (row.status !== 'ready') {
      throw conflict(`a ${row.status} reading has no content to correct`, { status: row.status });
    }
    const edited = await readingsRepo.editContent(this.deps.db, caller.orgId, row.id, content);
    if (!edited) throw notFound('reading');
    return (await this.views([edited]))[0];
  }

  /** Runs one step of the upload's pipeline again; answers its job. */
  async trigger(caller: Caller, uploadId: string, event: UploadEvent) {
    const upload = await findOwned(this.deps.db, caller, 'upload', uploadId);
    if (upload.deleted_at) throw notFound('upload');
    if (upload.status !== 'confirmed' || upload.blob_purged_at) {
      throw conflict(`a ${upload.status} upload has no bytes to process`, { status: upload.status });
    }
    const jobs = await this.deps.queue.transaction(this.deps.db, (t) =>
      event === 'PROCESS_DOCUMENT' ? requestReadings(t, [upload]) : requestPreviews(t, [upload]),
    );
    const jobId = jobs.get(upload.id);
    // Every upload has a reading to re-run (a 3D model's through its preview); only a preview can be missing.
    if (!jobId) throw conflict(`${upload.name} is not a 3D model this service previews`, { event });
    return { job_id: jobId };
  }

  /** The thumbnail of an upload's bytes, if its reading made one; 404 otherwise. */
  async thumbnail(caller: Caller, uploadId: string) {
    const upload = await findOwned(this.deps.db, caller, 'upload', uploadId);
    return thumbnailOf(this.deps, upload);
  }

  private async views(rows: ReadingRow[]) {
    const ids = rows.map((r) => r.upload_id);
    const files = ids.length ? await this.deps.db.selectFrom('uploads').select(['id', 'file_id']).where('id', 'in', ids).execute() : [];
    const fileOf = new Map(files.map((u) => [u.id, u.file_id]));
    return rows.map((row) => readingView(row, fileOf.get(row.upload_id) ?? null));
  }
}
