import type { Readable } from 'node:stream';
import { readHead } from '../../content/digest.js';
import { matchesType, sniffContentType } from '../../content/sniff.js';
import { unsupportedMediaType, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { UploadRow } from '../../db/schema.js';
import type { JobTransaction } from '../../jobs/queue.js';
import type { ModuleDeps } from '../module.js';
import { confirmations } from './confirmed.js';
import { uploadsRepo } from './repo.js';
import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { uploadView } from './view.js';

export interface StreamedFile {
  /** As the client sent it; '' when the part had no filename. */
  name: string;
  contentType: string | null;
  stream: Readable;
  /** A byte count the stream must have: storage refuses any other (BlobError 'size_mismatch'). */
  size?: number;
  /** The folder whose file confirming this upload makes (checked by the caller before the bytes are read). */
  folderId?: string | null;
}

/** More work to commit with the confirmed upload, or to fail with it (its bytes are then removed). */
export type WithUpload<T> = (t: JobTransaction, upload: UploadRow) => Promise<T>;

/**
 * The simple upload: bytes streamed through the server into storage, hashed on the way, and
 * confirmed in the request itself. The blob is written first and the row committed after, so a
 * failure at any point leaves no row; a blob without a row is removed here or, after a crash, by
 * the sweeper.
 */
export class StreamedUploads {
  constructor(private readonly deps: ModuleDeps) {}

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
    const id = newId();
    const key = `${caller.orgId}/${id}`;
    const stored = await this.deps.blobs.put(key, file.stream, { contentType: file.contentType, size: file.size });
    try {
      const detected = await sniffContentType(await readHead(this.deps.blobs, key, stored.size), stored.size);
      if (detected && matchesType(detected, this.deps.config.refusedContentTypes)) {
        throw unsupportedMediaType(`${detected} files are refused by this server's policy`);
      }
      const now = new Date();
      return await this.deps.queue.transaction(this.deps.db, async (t) => {
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
