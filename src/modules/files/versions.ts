import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Executor } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import type { Attributes, EditedBy, FileRow, FileVersionRow, Relationship, UploadRow } from '../../db/schema.js';
import { conflict, type FieldProblem, validationError } from '../../errors.js';
import type { JobTransaction } from '../../jobs/queue.js';
import { contentCid, isContentCid, sameContent, versionCid, versionRecordOf } from './cid.js';
import { filesRepo } from './repo.js';
import { fileView } from './view.js';

/** What the next version is made of. */
export interface NextVersion {
  properties: Attributes;
  relationships: Relationship[];
  note: string | null;
  folder_id: string | null;
  upload_id: string;
}

/**
 * Appends the next version to a file locked by the caller's transaction: its record hashed into its
 * cid, chained to the tip by prev_cid, and the file's tip moved to it.
 */
export async function appendVersion(t: JobTransaction, editedBy: EditedBy, file: FileRow, next: NextVersion) {
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

/** The file's tip version; null while its first content is awaited. */
export function tipOf(db: Executor, file: FileRow) {
  return file.ver > 0 ? filesRepo.version(db, file.id, file.ver).then((row) => row ?? null) : Promise.resolve(null);
}

/** The file locked for the rest of the transaction, still live and still at the tip the writer saw. */
export async function lockForWrite(db: Executor, caller: Caller, id: string, expectTip: string | null): Promise<FileRow> {
  const file = await findOwned(db, caller, 'file', id, { lock: true });
  if (file.deleted_at) throw inTrash();
  if (expectTip !== file.cid) {
    throw conflict('the file has changed since the version you expected', { expected: expectTip, actual: file.cid });
  }
  return file;
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
