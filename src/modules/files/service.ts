import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Executor } from '../../db/database.js';
import type { Page } from '../../db/keyset.js';
import type { Attributes } from '../../db/schema.js';
import { StatementBatcher } from '../../db/statement-batcher.js';
import { conflict } from '../../errors.js';
import { newId } from '../../ids.js';
import type { ModuleDeps } from '../module.js';
import { cleanFilename } from '../names.js';
import type { RelationshipInput, RelationshipRef } from './merge.js';
import {
  contentProperties,
  declaredProperties,
  editProperties,
  freeProperties,
  relationshipsOnCreate,
  relationshipsOnUpdate,
} from './properties.js';
import type { PendingContent } from './pending.js';
import { type FileWithTip, type TipWrite, filesRepo } from './repo.js';
import {
  type FileLoader,
  type TipMover,
  appendVersion,
  editorOf,
  fileAtTip,
  findFileWithTip,
  lostRace,
  movesIn,
  usableUpload,
} from './versions.js';
import { fileView, versionView } from './view.js';

export interface FileCreateInput {
  filename: string;
  content_type: string;
  size: number;
  key?: string;
  label?: string;
  description?: string;
  properties?: Attributes;
  relationships?: RelationshipInput[];
  collection?: string;
  folder_id?: string | null;
  data_source_id?: string;
  note?: string;
}

export interface FileUpdateInput {
  expect_tip: string | null;
  note?: string;
  properties?: Attributes;
  /** Names, or objects of names: checked by editProperties. */
  properties_remove?: unknown;
  relationships_add?: RelationshipInput[];
  relationships_remove?: RelationshipRef[];
  filename?: string;
  label?: string;
  description?: string;
  folder_id?: string | null;
  data_source_id?: string;
}

export interface FileReuploadInput {
  expect_tip: string | null;
  content_type: string;
  size: number;
  filename?: string;
  label?: string;
  description?: string;
  note?: string;
  key?: string;
  data_source_id?: string;
}

/**
 * Files and their versions. An edit reads the file and its tip, builds the next version, and moves
 * the tip with one statement conditional on the tip it read: of writers racing on one tip exactly one
 * wins, and the (file_id, ver) key stops a fork should anything slip past. Reads and tip moves of
 * concurrent requests share their statements (StatementBatcher), as presigns share their inserts.
 */
export class FilesService {
  private readonly load: FileLoader;
  private readonly writer: { db: Executor; move: TipMover };

  constructor(private readonly deps: ModuleDeps) {
    const loads = new StatementBatcher<string, FileWithTip | undefined>(async (ids) => {
      const found = new Map((await filesRepo.findManyWithTip(deps.db, ids)).map((row) => [row.file.id, row]));
      return ids.map((id) => found.get(id));
    });
    const moves = new StatementBatcher((writes: TipWrite[]) => filesRepo.advanceTips(deps.db, writes), { key: (w) => w.file_id });
    this.load = (id) => loads.submit(id);
    this.writer = { db: deps.db, move: (write) => moves.submit(write) };
  }

  async get(caller: Caller, id: string) {
    const { file, tip } = await findFileWithTip(this.load, caller, id);
    return fileView(file, tip);
  }

  async list(caller: Caller, options: { q?: string; folder_id?: string; include_deleted?: boolean } & Page) {
    if (options.folder_id) await findOwned(this.deps.db, caller, 'folder', options.folder_id);
    const { rows, count, countCapped, nextCursor } = await filesRepo.list(this.deps.db, caller.orgId, {
      q: options.q,
      folderId: options.folder_id,
      includeDeleted: options.include_deleted ?? false,
      limit: options.limit,
      offset: options.offset,
      after: options.after,
    });
    return {
      count,
      ...(countCapped && { count_capped: true }),
      data: rows.map(({ file, tip }) => fileView(file, tip)),
      next_cursor: nextCursor,
    };
  }

  async versions(caller: Caller, id: string, page: Page) {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    const { rows, nextCursor } = await filesRepo.versions(this.deps.db, file.id, page);
    return { count: file.ver, data: rows.map(versionView), next_cursor: nextCursor };
  }

  async create(caller: Principal, input: FileCreateInput) {
    const filename = cleanFilename(input.filename, 'body.filename');
    const properties = declaredProperties(freeProperties(input.properties), {
      filename,
      content_type: input.content_type,
      size: input.size,
      label: input.label ?? filename,
      description: input.description,
      key: input.key,
    });
    const relationships = relationshipsOnCreate(input.relationships ?? [], input.collection);
    return this.deps.queue.transaction(this.deps.db, async (t) => {
      const folderId = input.folder_id ?? null;
      if (folderId) await findOwned(t.db, caller, 'folder', folderId);
      const file = await filesRepo.insert(t.db, {
        id: newId(),
        org_id: caller.orgId,
        folder_id: folderId,
        status: 'pending',
        filename,
        label: String(properties.label),
        created_by_key_id: caller.keyId,
        updated_at: new Date(),
        pending_content: input.data_source_id
          ? null
          : JSON.stringify({
              expect_tip: null,
              content_type: input.content_type,
              size: input.size,
              properties,
              relationships,
              note: input.note ?? null,
              folder_id: folderId,
            } satisfies PendingContent),
      });
      if (!input.data_source_id) return fileView(file, null);
      const upload = await usableUpload(t.db, caller, input.data_source_id, { size: input.size, key: input.key });
      return appendVersion({ db: t.db, move: movesIn(t.db) }, editorOf(caller), file, null, {
        properties: contentProperties(properties, upload),
        relationships,
        note: input.note ?? null,
        folder_id: folderId,
        upload_id: upload.id,
      });
    });
  }

  /** An edit: no transaction, since the one statement that moves the tip is conditional on it (appendVersion). */
  async update(caller: Principal, id: string, input: FileUpdateInput) {
    const db = this.deps.db;
    const { file, tip } = await fileAtTip(this.load, caller, id, input.expect_tip);
    const pending = file.pending_content as PendingContent | null;
    const base = tip?.properties ?? pending?.properties ?? {};
    let properties = editProperties(base, input);
    let uploadId = tip?.upload_id;
    if (input.data_source_id) {
      // New bytes: the file's first content keeps what was declared for it (a content-CID key is
      // checked); other content takes the upload's type, and the old key, which named the old bytes, goes.
      const upload = await usableUpload(db, caller, input.data_source_id, {
        size: tip ? undefined : pending?.size,
        key: !tip && typeof properties.key === 'string' ? properties.key : undefined,
      });
      if (tip) {
        properties = declaredProperties(properties, {
          filename: String(properties.filename),
          content_type: upload.content_type ?? upload.detected_content_type ?? String(properties.content_type),
          size: Number(upload.size_bytes),
          label: String(properties.label ?? properties.filename),
          description: typeof properties.description === 'string' ? properties.description : undefined,
        });
      }
      properties = contentProperties(properties, upload);
      uploadId = upload.id;
    }
    if (!uploadId) {
      throw conflict(
        'this file has no content yet: send its bytes to POST /api/v1/files/{id}/content, or give a confirmed upload as data_source_id',
        { status: file.status },
      );
    }
    const folderId = input.folder_id === undefined ? file.folder_id : input.folder_id;
    if (folderId && folderId !== file.folder_id) await findOwned(db, caller, 'folder', folderId);
    return appendVersion(this.writer, editorOf(caller), file, tip, {
      properties,
      relationships: relationshipsOnUpdate(tip?.relationships ?? pending?.relationships ?? [], input),
      note: input.note ?? null,
      folder_id: folderId,
      upload_id: uploadId,
    });
  }

  /** Prepares the next content version: made at once from a confirmed upload, else when its bytes arrive. */
  async reupload(caller: Principal, id: string, input: FileReuploadInput) {
    const db = this.deps.db;
    const { file, tip } = await fileAtTip(this.load, caller, id, input.expect_tip);
    const pending = file.pending_content as PendingContent | null;
    const base = tip?.properties ?? pending?.properties ?? {};
    const filename = input.filename === undefined ? String(base.filename) : cleanFilename(input.filename, 'body.filename');
    const properties = declaredProperties(base, {
      filename,
      content_type: input.content_type,
      size: input.size,
      label: input.label ?? (typeof base.label === 'string' ? base.label : filename),
      description: input.description ?? (typeof base.description === 'string' ? base.description : undefined),
      // A key named the old content; the new content keeps it only when the client names it again.
      key: input.key,
    });
    const relationships = tip?.relationships ?? pending?.relationships ?? [];
    if (input.data_source_id) {
      const upload = await usableUpload(db, caller, input.data_source_id, { size: input.size, key: input.key });
      return appendVersion(this.writer, editorOf(caller), file, tip, {
        properties: contentProperties(properties, upload),
        relationships,
        note: input.note ?? null,
        folder_id: file.folder_id,
        upload_id: upload.id,
      });
    }
    const next: PendingContent = {
      expect_tip: file.cid,
      content_type: input.content_type,
      size: input.size,
      properties,
      relationships,
      note: input.note ?? null,
      folder_id: file.folder_id,
    };
    const updated = await filesRepo.awaitContent(db, file, next);
    if (!updated) throw await lostRace(db, file);
    return fileView(updated, tip);
  }
}
