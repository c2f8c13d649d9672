import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Executor } from '../../db/database.js';
import { InsertBatcher } from '../../db/insert-batcher.js';
import type { Page } from '../../db/keyset.js';
import type { NewUpload, UploadRow, UploadStatus } from '../../db/schema.js';
import { conflict, type FieldProblem, notFound, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { JobTransaction } from '../../jobs/queue.js';
import type { ModuleDeps } from '../module.js';
import type { ContentPolicy } from '../policy/content-policy.js';
import { UploadAdmission, quotaStanding, undeclaredLimit } from './admission.js';
import { confirmJob } from './confirm-job.js';
import { confirmations } from './confirmed.js';
import { FILE_NAME_RULE, isFileName } from '../names.js';
import { uploadsRepo } from './repo.js';
import { uploadUsage } from './usage.js';
import { uploadView } from './view.js';

export interface PresignInput {
  name: string;
  content_type?: string | null;
  size_bytes?: number | null;
  sha256?: string | null;
  folder_id?: string | null;
}

interface ReusableContent {
  blob_key: string;
  size_bytes: string | null;
  detected_content_type: string | null;
}

export interface BulkResult {
  cancelled: string[];
  retried: string[];
  skipped: { id: string; reason: string }[];
}

// A confirm attempt reads the whole blob; its lease assumes storage gives at least this much.
const SLOWEST_READ_BYTES_PER_SECOND = 20 * 1024 * 1024;

export class UploadsService {
  private readonly newRows: InsertBatcher<NewUpload>;
  readonly admission: UploadAdmission;

  constructor(private readonly deps: ModuleDeps) {
    this.newRows = new InsertBatcher((rows) => uploadsRepo.insert(deps.db, rows));
    this.admission = new UploadAdmission(deps);
  }

  async presign(caller: Caller, input: PresignInput, baseUrl: string) {
    const [answer] = await this.presignMany(caller, [input], baseUrl, () => 'body');
    return answer;
  }

  /**
   * All or nothing: one invalid file rejects the batch, naming each problem by its index. A file
   * whose declared sha256 (and size) matches a confirmed upload of the org is answered at once: a
   * confirmed, deduplicated upload sharing that blob, with no URL because no bytes need to move.
   * The org's content policy is applied before any row or URL is made: a declared type outside it
   * is 415, a declared size over its largest upload or past its quota 413.
   */
  async presignMany(caller: Caller, files: PresignInput[], baseUrl: string, pathOf = (i: number) => `body.files[${i}]`) {
    const problems = files.flatMap((file, i) => this.presignProblems(file, pathOf(i)));
    if (problems.length) throw validationError(problems);
    const policy = await this.admission.policyOf(caller.orgId);
    this.admission.checkDeclared(policy, files, pathOf);
    const expiresIn = this.deps.config.limits.presignTtlSeconds;
    await this.checkFolders(caller, files);
    const known = await this.confirmedContent(caller.orgId, files);
    const now = Date.now();
    const rows = files.map((file) => this.rowFor(caller, file, known, now));
    const room = await this.storeNew(caller.orgId, rows, policy);
    // Undeclared, the size is still held to what one request may carry, the policy's largest upload
    // and the room left under the quota (bound into the URL where storage can hold it; the confirm checks).
    const maxSize = undeclaredLimit(this.deps.config.limits.singleRequestBytes, policy, room);
    return Promise.all(
      rows.map(async (row) => {
        if (row.deduplicated) {
          return { data_source_id: row.id, url: null, method: null, headers: null, fields: null, expires_in: 0, deduplicated: true };
        }
        const request = await this.deps.blobs.presignPut(
          row.blob_key,
          {
            size: toNumber(row.declared_size),
            maxSize,
            sha256: row.declared_sha256 ?? null,
            contentType: row.content_type ?? null,
          },
          { expiresInSeconds: expiresIn, baseUrl },
        );
        return {
          data_source_id: row.id,
          url: request.url,
          method: request.method,
          headers: Object.keys(request.headers).length ? request.headers : null,
          fields: null,
          expires_in: expiresIn,
          deduplicated: false,
        };
      }),
    );
  }

  /**
   * The row for a new upload: pending with a blob key of its own, or, when its declared sha256 (and
   * size) names confirmed bytes of the org, confirmed at once and sharing them.
   */
  rowFor(caller: Caller, file: PresignInput, known: Map<string, ReusableContent>, now: number): NewUpload {
    const id = newId();
    const sha256 = file.sha256?.toLowerCase() ?? null;
    const base = {
      id,
      org_id: caller.orgId,
      name: file.name,
      content_type: file.content_type ?? null,
      declared_size: file.size_bytes ?? null,
      declared_sha256: sha256,
      created_by_key_id: caller.keyId,
      folder_id: file.folder_id ?? null,
      updated_at: new Date(now),
      expires_at: new Date(now + this.deps.config.limits.pendingTtlSeconds * 1000),
    };
    const same = sha256 ? known.get(sha256) : undefined;
    if (!same || (file.size_bytes != null && Number(same.size_bytes) !== file.size_bytes)) {
      return { ...base, blob_key: `${caller.orgId}/${id}` };
    }
    return {
      ...base,
      blob_key: same.blob_key,
      status: 'confirmed',
      deduplicated: true,
      size_bytes: same.size_bytes,
      sha256,
      detected_content_type: same.detected_content_type,
      confirmed_at: new Date(now),
      confirm_job_id: newId(),
    };
  }

  /** 404 unless every folder named is the caller's: checked before any row or URL is made. */
  async checkFolders(caller: Caller, files: readonly { folder_id?: string | null }[]): Promise<void> {
    for (const folderId of new Set(files.flatMap((f) => (f.folder_id ? [f.folder_id] : [])))) {
      await findOwned(this.deps.db, caller, 'folder', folderId);
    }
  }

  async confirmedContent(orgId: string, files: PresignInput[]): Promise<Map<string, ReusableContent>> {
    const declared = [...new Set(files.flatMap((f) => (f.sha256 ? [f.sha256.toLowerCase()] : [])))];
    if (!declared.length) return new Map();
    const rows = await uploadsRepo.findConfirmedByContent(this.deps.db, orgId, declared);
    return new Map(rows.map((row) => [row.sha256 as string, row]));
  }

  /**
   * Pending rows go through the insert batcher; deduplicated ones are confirmed as they are stored.
   * Under a quota, all of them are written in one transaction that holds the org's quota turn: 413
   * unless their bytes fit. The room left under the quota after them; null without a quota.
   */
  async storeNew(orgId: string, rows: NewUpload[], policy: ContentPolicy): Promise<number | null> {
    const deduplicated = rows.filter((row) => row.deduplicated);
    const pending = rows.filter((row) => !row.deduplicated);
    if (policy.quotaBytes !== null) {
      return this.deps.queue.transaction(this.deps.db, async (t) => {
        const bytes = rows.reduce((sum, row) => sum + (toNumber(row.deduplicated ? row.size_bytes : row.declared_size) ?? 0), 0);
        const undeclared = pending.some((row) => row.declared_size == null);
        const room = await this.admission.reserve(t.db, orgId, policy, bytes, { undeclared });
        if (deduplicated.length) await confirmations.store(t, this.deps.events, deduplicated);
        if (pending.length) await uploadsRepo.insert(t.db, pending);
        return room;
      });
    }
    if (deduplicated.length) await this.deps.queue.transaction(this.deps.db, (t) => confirmations.store(t, this.deps.events, deduplicated));
    if (pending.length) await this.newRows.add(pending);
    return null;
  }

  async confirm(caller: Caller, id: string) {
    return this.deps.queue.transaction(this.deps.db, async (t) => {
      const row = await findOwned(t.db, caller, 'upload', id, { lock: true });
      if (row.status === 'cancelled') throw conflict('this upload was cancelled and cannot be confirmed', { status: row.status });
      if (row.confirm_job_id) return { job_id: row.confirm_job_id };
      refuseOpenMultipart(row);
      const job = await this.enqueueConfirm(t, row);
      return { job_id: job.id };
    });
  }

  async list(caller: Caller, options: { includeCancelled: boolean; includeDeleted: boolean; status?: UploadStatus } & Page) {
    const { rows, count, nextCursor } = await uploadsRepo.list(this.deps.db, caller.orgId, options);
    return { count, data: rows.map(uploadView), next_cursor: nextCursor };
  }

  async get(caller: Caller, id: string) {
    return uploadView(await findOwned(this.deps.db, caller, 'upload', id));
  }

  async cancel(caller: Caller, id: string) {
    return this.deps.db.transaction().execute(async (tx) => {
      const row = await findOwned(tx, caller, 'upload', id, { lock: true });
      return uploadView(await this.cancelLocked(tx, row));
    });
  }

  async retry(caller: Caller, id: string) {
    return this.deps.queue.transaction(this.deps.db, async (t) => {
      const row = await findOwned(t.db, caller, 'upload', id, { lock: true });
      return uploadView(await this.retryLocked(t, row));
    });
  }

  bulkCancel(caller: Caller, ids: string[]): Promise<BulkResult> {
    return this.bulk(caller, ids, 'cancelled', (t, row) => this.cancelLocked(t.db, row));
  }

  bulkRetry(caller: Caller, ids: string[]): Promise<BulkResult> {
    return this.bulk(caller, ids, 'retried', (t, row) => this.retryLocked(t, row));
  }

  async downloadUrl(caller: Caller, id: string, baseUrl: string) {
    const row = await findOwned(this.deps.db, caller, 'upload', id);
    // Only confirmed bytes are served: anything else may be partial, wrong or refused.
    if (row.status !== 'confirmed' || row.deleted_at) throw notFound('confirmed upload');
    const url = await this.deps.blobs.presignGet(
      row.blob_key,
      { filename: row.name, contentType: row.detected_content_type ?? row.content_type },
      { expiresInSeconds: this.deps.config.limits.downloadTtlSeconds, baseUrl },
    );
    return { url, expires_in: this.deps.config.limits.downloadTtlSeconds };
  }

  async summary(caller: Caller) {
    const [counts, usage, policy] = await Promise.all([
      uploadsRepo.summary(this.deps.db, caller.orgId),
      uploadUsage.read(this.deps.db, caller.orgId),
      this.admission.policyOf(caller.orgId),
    ]);
    const byContentType: Record<string, number> = {};
    let named = 0;
    for (const type of counts.byContentType) {
      byContentType[type.contentType] = type.n;
      named += type.n;
    }
    // Types past the summary's bound (SUMMARY_CONTENT_TYPES) are counted together.
    if (counts.totalCount > named) byContentType.other = (byContentType.other ?? 0) + counts.totalCount - named;
    const quota = policy.quotaBytes === null ? null : quotaStanding(policy.quotaBytes, usage, 0);
    return {
      total_count: counts.totalCount,
      total_bytes: counts.totalBytes,
      by_status: counts.byStatus,
      by_content_type: byContentType,
      used_bytes: usage.confirmedBytes,
      pending_bytes: usage.pendingBytes,
      quota_bytes: policy.quotaBytes,
      available_bytes: quota?.available_bytes ?? null,
    };
  }

  private async cancelLocked(tx: Executor, row: UploadRow) {
    if (row.status === 'cancelled') return row;
    if (row.status !== 'pending') {
      throw conflict(`a ${row.status} upload cannot be cancelled`, { status: row.status });
    }
    const cancelled = await uploadsRepo.update(tx, row.id, { status: 'cancelled' });
    // Frees the parts at once; if this fails the sweeper finds nothing to keep them for either.
    if (row.multipart_upload_id) await this.deps.blobs.abortMultipart(row.blob_key, row.multipart_upload_id).catch(() => {});
    return cancelled;
  }

  private async retryLocked(t: JobTransaction, row: UploadRow) {
    if (row.deleted_at) throw conflict('this upload is in the trash: recover it first', { status: 'deleted' });
    if (row.status !== 'pending' && row.status !== 'failed') {
      throw conflict(`a ${row.status} upload cannot be retried`, { status: row.status });
    }
    refuseOpenMultipart(row);
    if (row.blob_purged_at) {
      throw conflict('the sweeper has removed the bytes of this upload; upload the file again', { status: 'purged' });
    }
    const job = await this.enqueueConfirm(t, row);
    return uploadsRepo.update(t.db, row.id, { status: 'pending', failure_reason: null, confirm_job_id: job.id });
  }

  /** Each id in its own transaction: one row's conflict never undoes another's change. */
  private async bulk(
    caller: Caller,
    ids: string[],
    done: 'cancelled' | 'retried',
    apply: (t: JobTransaction, row: UploadRow) => Promise<UploadRow>,
  ): Promise<BulkResult> {
    const result: BulkResult = { cancelled: [], retried: [], skipped: [] };
    for (const id of [...new Set(ids)]) {
      try {
        await this.deps.queue.transaction(this.deps.db, async (t) => apply(t, await findOwned(t.db, caller, 'upload', id, { lock: true })));
        result[done].push(id);
      } catch (error) {
        const details = (error as { details?: { status?: string } }).details;
        const code = (error as { code?: string }).code;
        if (code === 'not_found') result.skipped.push({ id, reason: 'not_found' });
        else if (code === 'conflict') result.skipped.push({ id, reason: `is_${details?.status ?? 'conflicting'}` });
        else throw error;
      }
    }
    return result;
  }

  async enqueueConfirm(t: JobTransaction, row: UploadRow) {
    const size = toNumber(row.declared_size) ?? this.deps.config.limits.singleRequestBytes;
    const job = await t.enqueue(confirmJob, {
      orgId: row.org_id,
      subjectId: row.id,
      leaseSeconds: this.deps.config.jobs.leaseSeconds + Math.ceil(size / SLOWEST_READ_BYTES_PER_SECOND),
    });
    await uploadsRepo.update(t.db, row.id, { confirm_job_id: job.id });
    return job;
  }

  private presignProblems(file: PresignInput, at: string): FieldProblem[] {
    const problems: FieldProblem[] = [];
    if (!isFileName(file.name)) problems.push({ path: `${at}.name`, message: FILE_NAME_RULE });
    const max = this.deps.config.limits.singleRequestBytes;
    if (file.size_bytes != null && file.size_bytes > max) {
      problems.push({
        path: `${at}.size_bytes`,
        message: `${file.size_bytes} bytes is over the ${max}-byte single-request limit; use the multipart flow (POST /api/v1/uploads/multipart)`,
      });
    }
    return problems;
  }
}

/** A multipart upload is confirmed by completing it, which assembles the parts first. */
function refuseOpenMultipart(row: UploadRow): void {
  if (row.multipart_upload_id) {
    throw conflict('this multipart upload is not assembled yet: POST /api/v1/uploads/{id}/complete with its parts', {
      status: 'uploading_parts',
    });
  }
}

const toNumber = (value: string | number | bigint | null | undefined): number | null => (value == null ? null : Number(value));
