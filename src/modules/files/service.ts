import type { Readable } from 'node:stream';
import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { BlobError, type ByteRange } from '../../blobs/blob-store.js';
import type { Executor } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import type { Attributes, EditedBy, FileRow, FileVersionRow, Relationship, UploadRow } from '../../db/schema.js';
import { grants } from '../../access/scopes.js';
import { conflict, type FieldProblem, insufficientScope, notFound, payloadTooLarge, validationError } from '../../errors.js';
import { purgeFile } from '../sweeper/purge.js';
import { newId } from '../../ids.js';
import type { JobTransaction } from '../../jobs/queue.js';
import type { ModuleDeps } from '../module.js';
import { cleanFilename } from '../names.js';
import type { StreamedUploads } from '../uploads/streamed.js';
import { contentCid, isContentCid, sameContent, versionCid, versionRecordOf } from './cid.js';
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

/** What the next version is made of. */
interface NextVersion {
  properties: Attributes;
  relationships: Relationship[];
  note: string | null;
  folder_id: string | null;
  upload_id: string;
}

/**
 * Files and their versions. Every write runs in one transaction that first locks the file row: the
 * tip it compares `expect_tip` with is the tip it builds on, so of writers racing on one tip exactly
 * one wins; the (file_id, ver) key stops a fork should anything slip past.
 */
export class FilesService {
  constructor(
    private readonly deps: ModuleDeps,
    private readonly streamed: StreamedUploads,
  ) {}

  async get(caller: Caller, id: string) {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    return fileView(file, await this.tipOf(this.deps.db, file));
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
      const upload = await this.usableUpload(t.db, caller, input.data_source_id, { size: input.size, key: input.key });
      return this.appendVersion(t, editorOf(caller), file, {
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
      const file = await this.lockForWrite(t.db, caller, id, input.expect_tip);
      const tip = await this.tipOf(t.db, file);
      const pending = file.pending_content as PendingContent | null;
      const base = tip?.properties ?? pending?.properties ?? {};
      let properties = editProperties(base, input);
      let uploadId = tip?.upload_id;
      if (input.data_source_id) {
        // New bytes: the file's first content keeps what was declared for it (a content-CID key is
        // checked); other content takes the upload's type, and the old key, which named the old bytes, goes.
        const upload = await this.usableUpload(t.db, caller, input.data_source_id, {
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
      return this.appendVersion(t, editorOf(caller), file, {
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
      const file = await this.lockForWrite(t.db, caller, id, input.expect_tip);
      const tip = await this.tipOf(t.db, file);
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
        const upload = await this.usableUpload(t.db, caller, input.data_source_id, { size: input.size, key: input.key });
        return this.appendVersion(t, editorOf(caller), file, {
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

  /**
   * The bytes a create without content or a reupload declared: exactly `size` of them, else 422 and
   * nothing kept. They become a confirmed upload and the next version in one transaction.
   */
  async putContent(caller: Principal, id: string, body: { stream: Readable; contentType: string | null }) {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    const pending = file.pending_content as PendingContent | null;
    const refuse = (error: Error) => {
      body.stream.resume();
      return error;
    };
    if (file.deleted_at) throw refuse(inTrash());
    if (!pending)
      throw refuse(conflict('this file awaits no content: POST …/reupload first to declare the next one', { status: file.status }));
    if (pending.expect_tip !== file.cid) {
      throw refuse(
        conflict('the file has changed since this content was declared: reupload again on the new tip', {
          expected: pending.expect_tip,
          actual: file.cid,
        }),
      );
    }
    const limit = this.deps.config.limits.simpleUploadBytes;
    if (pending.size > limit) {
      throw refuse(
        payloadTooLarge(
          `${pending.size} bytes is over the ${limit}-byte limit of a streamed content; upload it with presign or multipart and give its data_source_id to PUT or reupload`,
          { limit },
        ),
      );
    }
    try {
      const { result } = await this.streamed.store(
        caller,
        { name: String(pending.properties.filename), contentType: pending.content_type, stream: body.stream, size: pending.size },
        async (t, upload) => {
          const locked = await findOwned(t.db, caller, 'file', id, { lock: true });
          if (locked.cid !== pending.expect_tip || JSON.stringify(locked.pending_content) !== JSON.stringify(file.pending_content)) {
            throw conflict('the file changed while its bytes were arriving', { expected: pending.expect_tip, actual: locked.cid });
          }
          checkKey(pending.properties.key, upload, 'body');
          // Made for this file: it goes with the file when the file is purged.
          await t.db.updateTable('uploads').set({ file_id: locked.id }).where('id', '=', upload.id).execute();
          return this.appendVersion(t, editorOf(caller), locked, {
            properties: contentProperties(pending.properties, upload),
            relationships: pending.relationships,
            note: pending.note,
            folder_id: locked.folder_id,
            upload_id: upload.id,
          });
        },
      );
      return result;
    } catch (error) {
      // More bytes than declared stop storage at the declared size ('too_large'); fewer end short of it.
      if (error instanceof BlobError && (error.kind === 'size_mismatch' || error.kind === 'too_large')) {
        throw validationError([{ path: 'body', message: `${error.message}; this file awaits exactly ${pending.size} bytes` }]);
      }
      throw error;
    }
  }

  /** Into the trash: hidden from lists, its content unreachable, recoverable until the sweeper purges it. */
  async delete(caller: Principal, id: string, options: { permanent: boolean }) {
    if (options.permanent) {
      if (!grants(caller.scopes, 'admin')) throw insufficientScope('admin');
      const file = await findOwned(this.deps.db, caller, 'file', id);
      await purgeFile(this.deps.db, this.deps.blobs, file.id);
      return { message: `file ${file.filename} purged with its versions` };
    }
    const file = await this.deps.db.transaction().execute(async (tx) => {
      const row = await findOwned(tx, caller, 'file', id, { lock: true });
      return row.deleted_at ? row : filesRepo.update(tx, row.id, { deleted_at: new Date() });
    });
    return fileView(file, await this.tipOf(this.deps.db, file));
  }

  async recover(caller: Caller, id: string) {
    const file = await this.deps.db.transaction().execute(async (tx) => {
      const row = await findOwned(tx, caller, 'file', id, { lock: true });
      return row.deleted_at ? filesRepo.update(tx, row.id, { deleted_at: null }) : row;
    });
    return fileView(file, await this.tipOf(this.deps.db, file));
  }

  /** The version `ver` (the tip when omitted) with the upload holding its bytes; 404 for a trashed file. */
  async content(caller: Caller, id: string, ver?: number): Promise<{ version: FileVersionRow; upload: UploadRow }> {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    if (file.deleted_at) throw notFound('file');
    const wanted = ver ?? file.ver;
    const version = wanted > 0 && wanted <= file.ver ? await filesRepo.version(this.deps.db, file.id, wanted) : undefined;
    if (!version) throw notFound(ver === undefined ? 'content of this file (its bytes have not arrived)' : `version ${ver} of this file`);
    const upload = await this.deps.db.selectFrom('uploads').selectAll().where('id', '=', version.upload_id).executeTakeFirstOrThrow();
    if (upload.blob_purged_at) throw notFound('content of this version (its bytes were purged)');
    return { version, upload };
  }

  async downloadUrl(caller: Caller, id: string, ver: number | undefined, baseUrl: string) {
    const { version, upload } = await this.content(caller, id, ver);
    const expiresIn = this.deps.config.limits.downloadTtlSeconds;
    const url = await this.deps.blobs.presignGet(
      upload.blob_key,
      { filename: String(version.properties.filename ?? upload.name), contentType: contentTypeOf(version) },
      { expiresInSeconds: expiresIn, baseUrl },
    );
    return { url, expires_in: expiresIn };
  }

  /**
   * Uploads that named a folder become files as they are confirmed, in the same transaction: version
   * 1 shares the upload's bytes, edited by the key that made the upload. Each upload makes one file.
   */
  async fromConfirmedUploads(t: JobTransaction, confirmed: readonly { id: string }[]): Promise<void> {
    const uploads = await t.db
      .selectFrom('uploads')
      .leftJoin('api_keys', 'api_keys.id', 'uploads.created_by_key_id')
      .selectAll('uploads')
      .select('api_keys.label as key_label')
      .where(
        'uploads.id',
        'in',
        confirmed.map((u) => u.id),
      )
      .where('uploads.folder_id', 'is not', null)
      .where('uploads.file_id', 'is', null)
      .execute();
    for (const { key_label: keyLabel, ...upload } of uploads) {
      const filename = upload.name;
      const contentType = upload.content_type ?? upload.detected_content_type ?? 'application/octet-stream';
      const file = await filesRepo.insert(t.db, {
        id: newId(),
        org_id: upload.org_id,
        folder_id: upload.folder_id,
        status: 'pending',
        filename,
        label: filename,
        created_by_key_id: upload.created_by_key_id,
        updated_at: new Date(),
      });
      const properties = declaredProperties({}, { filename, content_type: contentType, size: Number(upload.size_bytes), label: filename });
      await this.appendVersion(t, { user_id: upload.created_by_key_id, user_label: keyLabel, method: 'api' }, file, {
        properties: contentProperties(properties, upload),
        relationships: [],
        note: null,
        folder_id: upload.folder_id,
        upload_id: upload.id,
      });
      await t.db.updateTable('uploads').set({ file_id: file.id }).where('id', '=', upload.id).execute();
    }
  }

  /** The stored bytes of a version's upload, or the range of them. */
  read(upload: UploadRow, range?: ByteRange): Promise<Readable> {
    return this.deps.blobs.read(upload.blob_key, range);
  }

  private tipOf(db: Executor, file: FileRow) {
    return file.ver > 0 ? filesRepo.version(db, file.id, file.ver).then((row) => row ?? null) : Promise.resolve(null);
  }

  /** The file locked for the rest of the transaction, still live and still at the tip the writer saw. */
  private async lockForWrite(db: Executor, caller: Caller, id: string, expectTip: string | null): Promise<FileRow> {
    const file = await findOwned(db, caller, 'file', id, { lock: true });
    if (file.deleted_at) throw inTrash();
    if (expectTip !== file.cid) {
      throw conflict('the file has changed since the version you expected', { expected: expectTip, actual: file.cid });
    }
    return file;
  }

  /** A confirmed, live upload of the caller's org whose bytes may become a version's content. */
  private async usableUpload(db: Executor, caller: Caller, id: string, expect: { size?: number; key?: string }): Promise<UploadRow> {
    const upload = await findOwned(db, caller, 'upload', id);
    if (upload.deleted_at)
      throw conflict('this upload is in the trash: recover it first', { data_source_id: upload.id, status: 'deleted' });
    if (upload.status !== 'confirmed') {
      throw conflict(`a ${upload.status} upload has no verified bytes to make a version of`, {
        data_source_id: upload.id,
        status: upload.status,
      });
    }
    const problems: FieldProblem[] = [];
    const size = Number(upload.size_bytes);
    if (expect.size !== undefined && size !== expect.size) {
      problems.push({ path: 'body.size', message: `the upload holds ${size} bytes, not ${expect.size}` });
    }
    if (problems.length) throw validationError(problems);
    checkKey(expect.key, upload, 'body.key');
    return upload;
  }

  private async appendVersion(t: JobTransaction, editedBy: EditedBy, file: FileRow, next: NextVersion) {
    const previousUpload = file.ver ? (await filesRepo.version(t.db, file.id, file.ver))?.upload_id : undefined;
    const record = versionRecordOf({
      prev_cid: file.cid,
      ver: file.ver + 1,
      ts: Date.now(),
      edited_by: editedBy,
      note: next.note,
      properties: next.properties,
      relationships: next.relationships,
      folder_id: next.folder_id,
    });
    const cid = versionCid(record);
    let version: FileVersionRow;
    try {
      version = await filesRepo.insertVersion(t.db, {
        file_id: file.id,
        ver: record.ver,
        org_id: file.org_id,
        cid,
        prev_cid: record.prev_cid,
        ts: record.ts,
        edited_by: JSON.stringify(record.edited_by),
        note: record.note,
        properties: JSON.stringify(record.properties),
        relationships: JSON.stringify(record.relationships),
        folder_id: record.folder_id,
        upload_id: next.upload_id,
      });
    } catch (error) {
      // The row lock makes this unreachable; the key is the second line of defence against a fork.
      if (isUniqueViolation(error)) throw conflict('another write made this version first', { expected: file.cid, actual: null }, true);
      throw error;
    }
    const updated = await filesRepo.update(t.db, file.id, {
      ver: record.ver,
      cid,
      status: 'ready',
      filename: String(record.properties.filename),
      label: String(record.properties.label ?? record.properties.filename),
      folder_id: record.folder_id,
      // New content fulfils whatever content was awaited; an edit leaves it awaited (its bytes then meet
      // a tip that moved on, and are refused with 409 rather than silently dropped).
      ...(next.upload_id !== previousUpload ? { pending_content: null } : {}),
    });
    return fileView(updated, version);
  }
}

/** The API key that makes a version, as the version records it. */
const editorOf = (caller: Principal): EditedBy => ({ user_id: caller.keyId, user_label: caller.keyLabel, method: 'api' });

/** When the client named its content by a content CID, the bytes must be the ones it names. */
function checkKey(key: unknown, upload: UploadRow, path: string): void {
  if (typeof key !== 'string' || !isContentCid(key)) return;
  if (upload.sha256 && sameContent(key, upload.sha256)) return;
  const actual = upload.sha256 ? `the bytes are ${contentCid(upload.sha256)}` : 'the bytes have no known digest';
  throw validationError([{ path, message: `key ${key} is a content CID and ${actual}` }]);
}

const inTrash = () => conflict('this file is in the trash: recover it first', { status: 'deleted' });

function contentTypeOf(version: FileVersionRow): string | null {
  return typeof version.properties.content_type === 'string' ? version.properties.content_type : null;
}
