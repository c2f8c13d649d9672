import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Attributes } from '../../db/schema.js';
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
import { filesRepo } from './repo.js';
import { appendVersion, editorOf, lockForWrite, tipOf, usableUpload } from './versions.js';
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
 * Files and their versions. Every write runs in one transaction that first locks the file row: the
 * tip it compares `expect_tip` with is the tip it builds on, so of writers racing on one tip exactly
 * one wins; the (file_id, ver) key stops a fork should anything slip past.
 */
export class FilesService {
  constructor(private readonly deps: ModuleDeps) {}

  async get(caller: Caller, id: string) {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    return fileView(file, await tipOf(this.deps.db, file));
  }

  async list(caller: Caller, options: { q?: string; folder_id?: string; include_deleted?: boolean; limit: number; offset: number }) {
    if (options.folder_id) await findOwned(this.deps.db, caller, 'folder', options.folder_id);
    const { rows, count } = await filesRepo.list(this.deps.db, caller.orgId, {
      q: options.q,
      folderId: options.folder_id,
      includeDeleted: options.include_deleted ?? false,
      limit: options.limit,
      offset: options.offset,
    });
    return { count, data: rows.map(({ file, tip }) => fileView(file, tip)) };
  }

  async versions(caller: Caller, id: string, page: { limit: number; offset: number }) {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    const rows = await filesRepo.versions(this.deps.db, file.id, page);
    return { count: file.ver, data: rows.map(versionView) };
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
      return appendVersion(t, editorOf(caller), file, {
        properties: contentProperties(properties, upload),
        relationships,
        note: input.note ?? null,
        folder_id: folderId,
        upload_id: upload.id,
      });
    });
  }

  async update(caller: Principal, id: string, input: FileUpdateInput) {
    return this.deps.queue.transaction(this.deps.db, async (t) => {
      const file = await lockForWrite(t.db, caller, id, input.expect_tip);
      const tip = await tipOf(t.db, file);
      const pending = file.pending_content as PendingContent | null;
      const base = tip?.properties ?? pending?.properties ?? {};
      let properties = editProperties(base, input);
      let uploadId = tip?.upload_id;
      if (input.data_source_id) {
        // New bytes: the file's first content keeps what was declared for it (a content-CID key is
        // checked); other content takes the upload's type, and the old key, which named the old bytes, goes.
        const upload = await usableUpload(t.db, caller, input.data_source_id, {
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
      if (folderId && folderId !== file.folder_id) await findOwned(t.db, caller, 'folder', folderId);
      return appendVersion(t, editorOf(caller), file, {
        properties,
        relationships: relationshipsOnUpdate(tip?.relationships ?? pending?.relationships ?? [], input),
        note: input.note ?? null,
        folder_id: folderId,
        upload_id: uploadId,
      });
    });
  }

  /** Prepares the next content version: made at once from a confirmed upload, else when its bytes arrive. */
  async reupload(caller: Principal, id: string, input: FileReuploadInput) {
    return this.deps.queue.transaction(this.deps.db, async (t) => {
      const file = await lockForWrite(t.db, caller, id, input.expect_tip);
      const tip = await tipOf(t.db, file);
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
        const upload = await usableUpload(t.db, caller, input.data_source_id, { size: input.size, key: input.key });
        return appendVersion(t, editorOf(caller), file, {
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
      const updated = await filesRepo.update(t.db, file.id, { pending_content: JSON.stringify(next) });
      return fileView(updated, tip);
    });
  }
}
