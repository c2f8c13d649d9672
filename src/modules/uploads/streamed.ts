import { Readable } from 'node:stream';
import { readHead } from '../../content/digest.js';
import { sniffContentType } from '../../content/sniff.js';
import { payloadTooLarge, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { UploadRow } from '../../db/schema.js';
import type { JobTransaction } from '../../jobs/queue.js';
import type { ModuleDeps } from '../module.js';
import { confirmations } from './confirmed.js';
import { uploadsRepo } from './repo.js';
import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { uploadView } from './view.js';
import { judgedType, refusalOf } from '../policy/content-policy.js';
import { UploadAdmission, typeRefused, undeclaredLimit } from './admission.js';

export interface StreamedFile {
  /** As the client sent it; '' when the part had no filename. */
  name: string;
  contentType: string | null;
  stream: Readable;
  /** A byte count the stream must have: storage refuses any other (BlobError 'size_mismatch'). */
  size?: number;
  /** Bytes the stream has at least, known before it is read (a form's Content-Length less its envelope). */
  atLeast?: number;
  /** The folder whose file confirming this upload makes (checked by the caller before the bytes are read). */
  folderId?: string | null;
}

/** More work to commit with the confirmed upload, or to fail with it (its bytes are then removed). */
export type WithUpload<T> = (t: JobTransaction, upload: UploadRow) => Promise<T>;

/**
 * The simple upload: bytes streamed through the server into storage, hashed on the way, and
 * confirmed in the request itself. The blob is written first and the row committed after, so a
 * failure at any point leaves no row; a blob without a row is removed here or, after a crash, by
 * the sweeper. The org's content policy is applied to what is declared before a byte is stored, to
 * the bytes as they arrive (no more than its largest upload or the room under its quota), and to
 * the type they show before the row is committed.
 */
export class StreamedUploads {
  private readonly admission: UploadAdmission;

  constructor(private readonly deps: ModuleDeps) {
    this.admission = new UploadAdmission(deps);
  }

  /** 404 unless the folder is the caller's: checked before a byte of the body is read. */
  async checkFolder(caller: Caller, folderId: string | null | undefined): Promise<void> {
    if (folderId) await findOwned(this.deps.db, caller, 'folder', folderId);
  }

  async upload(caller: Caller, file: StreamedFile) {
    const { upload } = await this.store(caller, file, async () => undefined);
    return uploadView(upload);
  }

  /** Stores the bytes as a confirmed upload and runs `within` in the transaction that confirms it. */
  async store<T>(caller: Caller, file: StreamedFile, within: WithUpload<T>): Promise<{ upload: UploadRow; result: T }> {
    const name = file.name.split(/[\\/]/).pop()?.trim() ?? '';
    if (!name || /[\u0000-\u001f\u007f]/.test(name)) {
      file.stream.resume();
      throw validationError([{ path: 'body.file', message: 'the file part needs a filename' }]);
    }
    const policy = await this.admission.policyOf(caller.orgId);
    const known = file.size ?? file.atLeast ?? 0;
    let room: number | null;
    try {
      this.admission.checkDeclared(policy, [{ content_type: file.contentType, size_bytes: known }], () => 'body.file');
      room = await this.admission.room(caller.orgId, policy, known, { undeclared: file.size === undefined });
    } catch (error) {
      file.stream.resume();
      throw error;
    }
    const id = newId();
    const key = `${caller.orgId}/${id}`;
    // A declared size is held by storage itself; any other is held here to what the policy leaves.
    const stream =
      file.size === undefined ? cappedByPolicy(file.stream, policy.maxUploadBytes, room === null ? null : room + known) : file.stream;
    const stored = await this.deps.blobs.put(key, stream, { contentType: file.contentType, size: file.size });
    try {
      const detected = await sniffContentType(await readHead(this.deps.blobs, key, stored.size), stored.size);
      const refusal = refusalOf(policy, judgedType(detected, file.contentType));
      if (refusal) throw typeRefused(refusal, 'body.file');
      const now = new Date();
      return await this.deps.queue.transaction(this.deps.db, async (t) => {
        await this.admission.reserve(t.db, caller.orgId, policy, stored.size);
        await confirmations.store(t, this.deps.events, [
          {
            id,
            org_id: caller.orgId,
            name,
            content_type: file.contentType,
            declared_size: stored.size,
            size_bytes: stored.size,
            sha256: stored.sha256,
            detected_content_type: detected,
            status: 'confirmed',
            blob_key: key,
            confirm_job_id: newId(),
            created_by_key_id: caller.keyId,
            folder_id: file.folderId ?? null,
            updated_at: now,
            confirmed_at: now,
            expires_at: now,
          },
        ]);
        // Read back in the transaction: once it commits, the blob belongs to the row and must stay.
        const upload = (await uploadsRepo.find(t.db, caller.orgId, id))!;
        return { upload, result: await within(t, upload) };
      });
    } catch (error) {
      await this.deps.blobs.delete(key).catch(() => {});
      throw error;
    }
  }
}

/**
 * The stream of a file whose size is not known before it arrives, failing with a 413 as soon as it
 * passes the org's largest upload or the room left under its quota (storage drops what it has
 * written when its source fails); the stream itself when the policy sets neither.
 */
function cappedByPolicy(source: Readable, maxUploadBytes: number | null, quotaRoom: number | null): Readable {
  const limit = undeclaredLimit(Infinity, { maxUploadBytes }, quotaRoom);
  if (limit === Infinity) return source;
  const why =
    limit === maxUploadBytes
      ? `this organisation's largest upload (max_upload_bytes) is ${limit} bytes`
      : `${limit} bytes are left under this organisation's storage quota`;
  const limited = async function* () {
    let passed = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      passed += chunk.length;
      if (passed > limit) throw payloadTooLarge(`the file is larger than it may be: ${why}`, { limit });
      yield chunk;
    }
  };
  // Pulled, not piped: no byte moves (and no error is raised) before storage reads it. Leaving the
  // loop early destroys the source, so the form stops too.
  return Readable.from(limited(), { objectMode: false });
}
