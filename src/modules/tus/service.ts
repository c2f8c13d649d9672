import type { Readable } from 'node:stream';
import type { Principal } from '../../access/caller.js';
import { BlobError } from '../../blobs/blob-store.js';
import { HEARTBEAT_SECONDS, LEASE_EXPIRES_SECONDS } from '../../db/process-lease.js';
import { conflict, notFound, payloadTooLarge, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { ModuleDeps } from '../module.js';
import { requireFilesWriteFor } from '../uploads/folder-scope.js';
import type { MultipartUploads } from '../uploads/multipart.js';
import { smallestPartSize } from '../uploads/part-plan.js';
import type { UploadsService } from '../uploads/service.js';
import { TusAppend, writerReplaced } from './append.js';
import { declaredBy } from './metadata.js';
import { type TusUpload, tusRepo } from './repo.js';

/** What a creation (POST) names: the Upload-Length, and the Upload-Metadata decoded and as sent. */
export interface TusCreation {
  size: number;
  metadata: Record<string, string | null> | undefined;
  rawMetadata: string | null;
}

/** Where a tus upload stands, as HEAD tells it. */
export interface TusState {
  size: number;
  offset: number;
  rawMetadata: string | null;
}

/**
 * Uploads through the tus protocol, on top of the multipart flow: a creation is a multipart start
 * (policy, quota, folder, deduplication), the PATCHes write its parts from the server side, and the
 * last one completes it, which enqueues the confirm job as `POST /uploads/{id}/complete` does.
 */
export class TusUploads {
  constructor(
    private readonly deps: ModuleDeps,
    private readonly uploads: UploadsService,
    private readonly multipart: MultipartUploads,
  ) {}

  /** Starts the upload; answers its id, the tus id. */
  async create(caller: Principal, creation: TusCreation): Promise<string> {
    const declared = declaredBy(creation.metadata);
    const max = this.deps.config.limits.multipartBytes;
    if (creation.size > max) {
      throw payloadTooLarge(`${creation.size} bytes is over the ${max}-byte limit of an upload`, { size_bytes: creation.size, limit: max });
    }
    if (creation.size === 0) {
      throw validationError([{ path: 'headers.upload-length', message: 'an empty file has nothing to upload through tus' }]);
    }
    requireFilesWriteFor(caller, [declared]);
    // Parts as small as storage takes: a PATCH holds at most one part in memory, and a tail is
    // rewritten whole by each PATCH that adds to it.
    const started = await this.multipart.start(caller, {
      ...declared,
      size_bytes: creation.size,
      part_size: smallestPartSize(creation.size),
    });
    // A deduplicated upload is confirmed already: all of its bytes are in.
    await tusRepo.insert(this.deps.db, {
      upload_id: started.data_source_id,
      upload_offset: started.deduplicated ? creation.size : 0,
      upload_metadata: creation.rawMetadata,
    });
    return started.data_source_id;
  }

  /** The caller's tus upload, else 404: another org's id, an upload of another flow and an unknown id alike. */
  async find(caller: Principal, id: string): Promise<TusUpload> {
    const upload = await tusRepo.find(this.deps.db, caller.orgId, id);
    if (!upload) throw notFound('tus upload');
    return upload;
  }

  /** 409 naming where the upload stands unless it is at `offset` (the check a PATCH makes again under its lease). */
  expectOffset(upload: TusUpload, offset: number): void {
    const current = takingBytesAt(upload);
    if (offset !== current) throw offsetConflict(current);
  }

  async state(caller: Principal, id: string): Promise<TusState> {
    const upload = await this.find(caller, id);
    return { size: Number(upload.declared_size), offset: takingBytesAt(upload), rawMetadata: upload.upload_metadata };
  }

  /**
   * Appends `body` at `offset`, which must be where the upload stands (409 otherwise, with the offset
   * in the details). One writer at a time across the cluster: the lease is taken where the offset
   * matches, kept fresh while the body arrives, and given back at the end.
   */
  async write(caller: Principal, id: string, offset: number, body: Readable): Promise<number> {
    const upload = await this.find(caller, id);
    const size = Number(upload.declared_size);
    const current = takingBytesAt(upload);
    // All bytes are in already: a creation that deduplicated, or a PATCH at the end. A body is read and
    // dropped: one left unread would be cut off with the connection before the answer reaches the client.
    if (current === size && (offset === 0 || offset === size)) {
      for await (const _chunk of body);
      return size;
    }
    if (offset !== current) throw offsetConflict(current);
    const writer = newId();
    const claimed = await tusRepo.claim(this.deps.db, id, offset, writer, LEASE_EXPIRES_SECONDS);
    if (!claimed) {
      throw conflict('another request is writing this upload, or just moved its offset; HEAD it and resume', { offset: current }, true);
    }
    const heartbeat = setInterval(() => {
      tusRepo
        .renew(this.deps.db, id, writer, LEASE_EXPIRES_SECONDS)
        .then((held) => held || body.destroy(writerReplaced()))
        .catch(() => {});
    }, HEARTBEAT_SECONDS * 1000);
    try {
      const append = new TusAppend(
        this.deps,
        { ...upload, ...claimed },
        {
          writer,
          leaseSeconds: LEASE_EXPIRES_SECONDS,
          finish: async () => {
            // None listed when storage has ended the upload: completing then finds it assembled (or aborted: 404).
            const parts = await this.deps.blobs.listParts(upload.blob_key, upload.multipart_upload_id!).catch((error) => {
              if (error instanceof BlobError && error.kind === 'missing') return [];
              throw error;
            });
            await this.multipart.complete(
              caller,
              id,
              parts.map((p) => ({ part_number: p.partNumber, etag: p.etag })),
            );
          },
        },
      );
      return await append.run(body);
    } finally {
      clearInterval(heartbeat);
      await tusRepo.release(this.deps.db, id, writer).catch(() => {});
    }
  }

  /** Termination: cancels the upload as `POST /uploads/{id}/cancel` does, and removes its tail. */
  async terminate(caller: Principal, id: string): Promise<void> {
    await this.find(caller, id);
    await this.uploads.cancel(caller, id);
    const tail = await tusRepo.dropTail(this.deps.db, id);
    if (tail) await this.deps.blobs.delete(tail).catch(() => {});
  }

  /** The confirm job of an upload whose bytes are all in; null while it takes bytes. */
  async confirmJobOf(caller: Principal, id: string): Promise<string | null> {
    const upload = await this.find(caller, id);
    return upload.multipart_upload_id ? null : upload.confirm_job_id;
  }
}

/**
 * The offset an upload takes bytes at: all of them once assembled (or deduplicated), else what its
 * PATCHes stored. A cancelled (terminated) upload, or one that expired before its end, is gone: 404.
 */
function takingBytesAt(upload: TusUpload): number {
  if (upload.status === 'cancelled') throw notFound('tus upload');
  if (!upload.multipart_upload_id) return Number(upload.declared_size);
  if (upload.status !== 'pending') throw notFound('tus upload');
  return Number(upload.upload_offset);
}

const offsetConflict = (offset: number) =>
  conflict(`Upload-Offset must be ${offset}, where this upload stands (HEAD answers it)`, { offset }, true);
