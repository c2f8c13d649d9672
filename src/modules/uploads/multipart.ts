import { BlobError } from '../../blobs/blob-store.js';
import { sameEtag } from '../../blobs/multipart.js';
import type { UploadRow } from '../../db/schema.js';
import { AppError, conflict, type FieldProblem, notFound, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import { jobsRepo } from '../../jobs/jobs-repo.js';
import type { ModuleDeps } from '../module.js';
import { planParts } from './part-plan.js';
import { uploadsRepo } from './repo.js';
import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { UploadsService } from './service.js';
import { CONFIRM_KIND } from './confirmed.js';
import { uploadView } from './view.js';

export interface MultipartStart {
  name: string;
  size_bytes: number;
  content_type?: string | null;
  part_size?: number | null;
  sha256?: string | null;
  folder_id?: string | null;
}

/**
 * The direct multipart flow for very large files: the client PUTs parts straight to storage (in
 * any order, in parallel, resumable from GET …/parts), then completes; storage assembles them and
 * the confirm job hashes the whole file (S3 only knows per-part checksums).
 */
export class MultipartUploads {
  constructor(
    private readonly deps: ModuleDeps,
    private readonly uploads: UploadsService,
  ) {}

  async start(caller: Caller, input: MultipartStart) {
    const { partSize, partCount } = planParts(input, this.deps.config.limits.multipartBytes);
    const { admission } = this.uploads;
    const policy = await admission.policyOf(caller.orgId);
    admission.checkDeclared(policy, [input], () => 'body');
    await this.uploads.checkFolders(caller, [input]);
    const known = await this.uploads.confirmedContent(caller.orgId, [input]);
    const row = this.uploads.rowFor(caller, input, known, Date.now());
    const expiresIn = this.deps.config.limits.pendingTtlSeconds;
    if (row.deduplicated) {
      await this.uploads.storeNew(caller.orgId, [row], policy);
      return { data_source_id: row.id, part_size: partSize, part_count: 0, expires_in: 0, deduplicated: true };
    }
    // Past the quota is refused before storage is asked for anything; the insert below decides.
    await admission.room(caller.orgId, policy, input.size_bytes);
    // Storage first: a multipart upload without a row is harmless, a row without one is not.
    const { uploadId } = await this.deps.blobs.createMultipart(row.blob_key, { contentType: row.content_type ?? null, partSize });
    const stored = { ...row, multipart_upload_id: uploadId, part_size: partSize, part_count: partCount };
    try {
      if (policy.quotaBytes === null) await uploadsRepo.insert(this.deps.db, [stored]);
      else await this.uploads.storeNew(caller.orgId, [stored], policy);
    } catch (error) {
      // Refused (another upload took the room meanwhile): nothing will ever send these parts.
      if (error instanceof AppError) await this.deps.blobs.abortMultipart(row.blob_key, uploadId).catch(() => {});
      throw error;
    }
    return { data_source_id: row.id, part_size: partSize, part_count: partCount, expires_in: expiresIn, deduplicated: false };
  }

  async presignParts(caller: Caller, id: string, partNumbers: number[], baseUrl: string) {
    const row = await this.openUpload(caller, id);
    const count = row.part_count ?? 0;
    const problems = partNumbers.flatMap((n, i) =>
      n > count ? [{ path: `body.part_numbers[${i}]`, message: `this upload has ${count} parts` }] : [],
    );
    if (problems.length) throw validationError(problems);
    const expiresInSeconds = this.deps.config.limits.presignTtlSeconds;
    const parts = await Promise.all(
      [...new Set(partNumbers)].map(async (partNumber) => {
        const request = await this.deps.blobs.presignPart(row.blob_key, row.multipart_upload_id!, partNumber, {
          size: expectedPartSize(row, partNumber),
          expiresInSeconds,
          baseUrl,
        });
        return { part_number: partNumber, url: request.url, method: request.method, headers: request.headers };
      }),
    );
    return { parts, expires_in: expiresInSeconds };
  }

  async listParts(caller: Caller, id: string) {
    const row = await this.openUpload(caller, id);
    const parts = await this.storedParts(row);
    return {
      parts: parts.map((p) => ({ part_number: p.partNumber, etag: p.etag, size_bytes: p.size })),
      part_size: Number(row.part_size),
      part_count: row.part_count ?? 0,
    };
  }

  /**
   * Checks the client's list against storage and the promised layout, assembles, and enqueues confirm.
   * A `sha256` hashed while the parts went out is recorded first, so the confirm job checks it as one
   * declared at start.
   */
  async complete(caller: Caller, id: string, listed: { part_number: number; etag: string }[], sha256?: string | null) {
    const declared = sha256?.toLowerCase() ?? null;
    const owned = await this.ownedMultipart(caller, id);
    if (declared) refuseOtherSha256(owned, declared);
    const row = declared ? { ...owned, declared_sha256: declared } : owned;
    if (!row.multipart_upload_id) {
      // Already assembled: completing again answers the same job.
      if (row.confirm_job_id) return { job_id: row.confirm_job_id };
      throw conflict('this upload is not waiting for parts', { status: row.status });
    }
    if (row.status !== 'pending') throw conflict(`a ${row.status} upload cannot be completed`, { status: row.status });
    const held = await this.partsOrAssembled(row);
    if (held === 'assembled') return this.completed(caller, id, declared);
    const stored = new Map(held.map((p) => [p.partNumber, p]));
    const problems: FieldProblem[] = [];
    const count = row.part_count ?? 0;
    if (listed.length !== count)
      problems.push({ path: 'body.parts', message: `this upload has ${count} parts; ${listed.length} were listed` });
    listed.forEach((part, i) => {
      const held = stored.get(part.part_number);
      const at = `body.parts[${i}]`;
      if (part.part_number !== i + 1) problems.push({ path: `${at}.part_number`, message: `expected part ${i + 1} here` });
      else if (!held) problems.push({ path: `${at}.part_number`, message: `part ${part.part_number} has not been uploaded` });
      else if (!sameEtag(held.etag, part.etag))
        problems.push({ path: `${at}.etag`, message: `storage holds part ${part.part_number} with etag ${held.etag}` });
      else if (held.size !== expectedPartSize(row, part.part_number)) {
        problems.push({
          path: `${at}`,
          message: `part ${part.part_number} is ${held.size} bytes; ${expectedPartSize(row, part.part_number)} were expected`,
        });
      }
    });
    if (problems.length) throw validationError(problems, 'the parts do not make up the declared file');
    try {
      await this.deps.blobs.completeMultipart(
        row.blob_key,
        row.multipart_upload_id,
        listed.map((p) => ({ partNumber: p.part_number, etag: p.etag })),
      );
    } catch (error) {
      // A completion that succeeded in storage but not here (a lost answer, a race with another node) is finished now.
      const ended = error instanceof BlobError && (error.kind === 'missing' || error.kind === 'exists');
      if (!ended || !(await this.assembledIn(row))) throw translate(error);
    }
    return this.completed(caller, id, declared);
  }

  /**
   * Records the sha256 of a multipart upload still taking parts, hashed while they go out. When the
   * org already holds confirmed bytes of that sha256 and size, the upload is answered as
   * deduplicated at once (confirmed, sharing them) and its parts are aborted, so the client stops
   * sending; otherwise it stays pending and the confirm job will check the hash.
   */
  async declareSha256(caller: Caller, id: string, sha256: string) {
    const declared = sha256.toLowerCase();
    const outcome = await this.deps.queue.transaction(this.deps.db, async (t) => {
      const row = await findOwned(t.db, caller, 'upload', id, { lock: true });
      takingParts(row);
      refuseOtherSha256(row, declared);
      const known = (await this.uploads.confirmedContent(caller.orgId, [{ name: row.name, sha256: declared }])).get(declared);
      if (!known || Number(known.size_bytes) !== Number(row.declared_size)) {
        const recorded = row.declared_sha256 ? row : await uploadsRepo.update(t.db, row.id, { declared_sha256: declared });
        return { row: recorded, abandoned: null };
      }
      const jobId = newId();
      await jobsRepo.insertSucceeded(t.db, [{ id: jobId, org_id: row.org_id, kind: CONFIRM_KIND, subject_id: row.id }]);
      const shared = await uploadsRepo.update(t.db, row.id, {
        blob_key: known.blob_key,
        status: 'confirmed',
        deduplicated: true,
        declared_sha256: declared,
        sha256: declared,
        size_bytes: known.size_bytes,
        detected_content_type: known.detected_content_type,
        failure_reason: null,
        confirmed_at: new Date(),
        confirm_job_id: jobId,
        multipart_upload_id: null,
      });
      await this.deps.events.uploadsConfirmed(t, [shared]);
      return { row: shared, abandoned: { key: row.blob_key, uploadId: row.multipart_upload_id! } };
    });
    // After the commit; a part still arriving is refused (no upload owns the key now), and what an
    // abort that failed leaves is storage's leftover, which the sweeper removes.
    if (outcome.abandoned) await this.deps.blobs.abortMultipart(outcome.abandoned.key, outcome.abandoned.uploadId).catch(() => {});
    return uploadView(outcome.row);
  }

  /** Marks the upload assembled and enqueues its confirm, once: a completion that lost the race answers the winner's job. */
  private completed(caller: Caller, id: string, declared: string | null) {
    return this.deps.queue.transaction(this.deps.db, async (t) => {
      const locked = await findOwned(t.db, caller, 'upload', id, { lock: true });
      if (declared) refuseOtherSha256(locked, declared);
      if (locked.confirm_job_id && !locked.multipart_upload_id) return { job_id: locked.confirm_job_id };
      if (locked.status !== 'pending') throw conflict(`a ${locked.status} upload cannot be completed`, { status: locked.status });
      const assembled = await uploadsRepo.update(t.db, locked.id, {
        multipart_upload_id: null,
        ...(declared && { declared_sha256: declared }),
      });
      const job = await this.uploads.enqueueConfirm(t, assembled);
      return { job_id: job.id };
    });
  }

  /**
   * The stored parts, or 'assembled' when storage has ended the multipart upload because it was
   * completed: a node that died (or lost its answer) after storage assembled the file but before
   * this row was updated leaves exactly that, and the retry finishes from the blob.
   */
  private async partsOrAssembled(row: UploadRow) {
    try {
      return await this.deps.blobs.listParts(row.blob_key, row.multipart_upload_id!);
    } catch (error) {
      if (error instanceof BlobError && error.kind === 'missing' && (await this.assembledIn(row))) return 'assembled' as const;
      throw translate(error);
    }
  }

  /**
   * Whether the blob at the upload's key is its assembled file: the declared size, and the declared
   * sha256 when storage vouches for one. Nothing else is ever written at a pending upload's key; the
   * confirm job hashes the whole file either way.
   */
  private async assembledIn(row: UploadRow): Promise<boolean> {
    const blob = await this.deps.blobs.stat(row.blob_key);
    if (!blob || blob.size !== Number(row.declared_size)) return false;
    return !(blob.sha256 && row.declared_sha256 && blob.sha256 !== row.declared_sha256.toLowerCase());
  }

  private async storedParts(row: UploadRow) {
    try {
      return await this.deps.blobs.listParts(row.blob_key, row.multipart_upload_id!);
    } catch (error) {
      throw translate(error);
    }
  }

  private async ownedMultipart(caller: Caller, id: string): Promise<UploadRow> {
    const row = await findOwned(this.deps.db, caller, 'upload', id);
    if (row.part_count === null) throw conflict('this is not a multipart upload', { status: row.status });
    return row;
  }

  /** A multipart upload still taking parts. */
  private async openUpload(caller: Caller, id: string): Promise<UploadRow> {
    const row = await findOwned(this.deps.db, caller, 'upload', id);
    takingParts(row);
    return row;
  }
}

/** 409 unless the row is a multipart upload still taking parts. */
function takingParts(row: UploadRow): void {
  if (row.part_count === null) throw conflict('this is not a multipart upload', { status: row.status });
  if (row.status !== 'pending' || !row.multipart_upload_id) {
    throw conflict(`this upload is ${row.multipart_upload_id ? row.status : 'already assembled'} and takes no parts`, {
      status: row.status,
    });
  }
}

/**
 * A sha256 declared again must be the one the upload holds: two hashes cannot both be the file's, and
 * an upload already completed without one is being checked without it.
 */
function refuseOtherSha256(row: UploadRow, declared: string): void {
  const held = row.declared_sha256?.toLowerCase() ?? null;
  if (held === declared) return;
  if (held) throw conflict(`this upload declared sha256 ${held}`, { status: row.status, sha256: held });
  if (!row.multipart_upload_id && row.confirm_job_id)
    throw conflict('this upload was completed without a sha256 and is checked without one', { status: row.status });
}

/** Every part is part_size bytes but the last, which holds the rest. */
function expectedPartSize(row: UploadRow, partNumber: number): number {
  const size = Number(row.declared_size);
  const partSize = Number(row.part_size);
  return partNumber < (row.part_count ?? 1) ? partSize : size - partSize * ((row.part_count ?? 1) - 1);
}

function translate(error: unknown): unknown {
  if (!(error instanceof BlobError)) return error;
  if (error.kind === 'missing') return notFound('multipart upload in storage (aborted or expired)');
  if (error.kind === 'invalid_part' || error.kind === 'part_too_small')
    return validationError([{ path: 'body.parts', message: error.message }]);
  return error;
}
