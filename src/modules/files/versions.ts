import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Executor } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import type { Attributes, EditedBy, FileRow, FileVersionRow, Relationship, UploadRow } from '../../db/schema.js';
import { conflict, type FieldProblem, notFound, validationError } from '../../errors.js';
import { isUuid } from '../../ids.js';
import { contentCid, isContentCid, sameContent, versionCid, versionRecordOf } from './cid.js';
import { type FileWithTip, type TipWrite, filesRepo } from './repo.js';
import { fileView } from './view.js';

/** What the next version is made of. */
export interface NextVersion {
  properties: Attributes;
  relationships: Relationship[];
  note: string | null;
  folder_id: string | null;
  upload_id: string;
}

/** Moves tips: one statement per call inside a transaction, or shared by concurrent requests (FileAccess). */
export type TipMover = (write: TipWrite) => Promise<FileVersionRow | undefined>;

/** A transaction's own tip moves: the statement runs inside it. */
export const movesIn =
  (db: Executor): TipMover =>
  async (write) =>
    (await filesRepo.advanceTips(db, [write]))[0];

/**
 * Appends the next version to the file at `tip`: its record hashed into its cid, chained to the tip
 * by prev_cid, and the file's tip moved to it, all only if the tip is still the one the caller read
 * (409 otherwise, or when the file went into the trash meanwhile). A caller holding the row lock
 * cannot lose; one that read without it loses exactly when another writer got there first.
 */
export async function appendVersion(
  writer: { db: Executor; move: TipMover },
  editedBy: EditedBy,
  file: FileRow,
  tip: FileVersionRow | null,
  next: NextVersion,
) {
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
  const write: TipWrite = {
    file_id: file.id,
    org_id: file.org_id,
    ...record,
    cid: versionCid(record),
    upload_id: next.upload_id,
    filename: String(record.properties.filename),
    label: String(record.properties.label ?? record.properties.filename),
    // New content fulfils whatever content was awaited; an edit leaves it awaited (its bytes then meet
    // a tip that moved on, and are refused with 409 rather than silently dropped).
    clear_pending: next.upload_id !== tip?.upload_id,
  };
  let version: FileVersionRow | undefined;
  try {
    version = await writer.move(write);
  } catch (error) {
    // The conditional update makes this unreachable; the key is the second line of defence against a fork.
    if (!isUniqueViolation(error)) throw error;
  }
  if (!version) throw await lostRace(writer.db, file);
  const moved: FileRow = {
    ...file,
    ver: version.ver,
    cid: version.cid,
    status: 'ready',
    filename: write.filename,
    label: write.label,
    folder_id: version.folder_id,
    pending_content: write.clear_pending ? null : file.pending_content,
    updated_at: version.created_at,
  };
  return fileView(moved, version);
}

/** Why the tip did not move: the file went into the trash, or another writer moved it first. */
export async function lostRace(db: Executor, file: FileRow) {
  const now = await db.selectFrom('files').select(['cid', 'deleted_at']).where('id', '=', file.id).executeTakeFirst();
  if (now?.deleted_at) return inTrash();
  return conflict('the file has changed since the version you expected', { expected: file.cid, actual: now?.cid ?? null });
}

/** The file's tip version; null while its first content is awaited. */
export function tipOf(db: Executor, file: FileRow) {
  return file.ver > 0 ? filesRepo.version(db, file.id, file.ver).then((row) => row ?? null) : Promise.resolve(null);
}

/** Reads files with their tips: one query per call, or shared by concurrent requests (FileAccess). */
export type FileLoader = (id: string) => Promise<FileWithTip | undefined>;

/** The caller's file and its tip version; 404 as findOwned answers it, for another org's file too. */
export async function findFileWithTip(load: FileLoader, caller: Caller, id: string): Promise<FileWithTip> {
  const found = isUuid(id) ? await load(id) : undefined;
  if (!found || found.file.org_id !== caller.orgId) throw notFound('file');
  return found;
}

/**
 * The file as a writer finds it: live, and at the tip the writer expected. Read without a lock: the
 * write itself is conditional on that tip (appendVersion), so a writer that loses the race still gets
 * its 409.
 */
export async function fileAtTip(load: FileLoader, caller: Caller, id: string, expectTip: string | null): Promise<FileWithTip> {
  const found = await findFileWithTip(load, caller, id);
  if (found.file.deleted_at) throw inTrash();
  if (expectTip !== found.file.cid) {
    throw conflict('the file has changed since the version you expected', { expected: expectTip, actual: found.file.cid });
  }
  return found;
}

/** A confirmed, live upload of the caller's org whose bytes may become a version's content. */
export async function usableUpload(db: Executor, caller: Caller, id: string, expect: { size?: number; key?: string }): Promise<UploadRow> {
  const upload = await findOwned(db, caller, 'upload', id);
  if (upload.deleted_at) throw conflict('this upload is in the trash: recover it first', { data_source_id: upload.id, status: 'deleted' });
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
/** The API key that makes a version, as the version records it. */
export const editorOf = (caller: Principal): EditedBy => ({ user_id: caller.keyId, user_label: caller.keyLabel, method: 'api' });

/** When the client named its content by a content CID, the bytes must be the ones it names. */
export function checkKey(key: unknown, upload: UploadRow, path: string): void {
  if (typeof key !== 'string' || !isContentCid(key)) return;
  if (upload.sha256 && sameContent(key, upload.sha256)) return;
  const actual = upload.sha256 ? `the bytes are ${contentCid(upload.sha256)}` : 'the bytes have no known digest';
  throw validationError([{ path, message: `key ${key} is a content CID and ${actual}` }]);
}

export const inTrash = () => conflict('this file is in the trash: recover it first', { status: 'deleted' });
