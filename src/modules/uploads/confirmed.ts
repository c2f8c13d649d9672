import type { NewUpload, UploadRow } from '../../db/schema.js';
import { jobsRepo } from '../../jobs/jobs-repo.js';
import type { JobTransaction } from '../../jobs/queue.js';
import type { ModuleEvents } from '../events.js';
import { uploadsRepo } from './repo.js';

/** The kind of the job that checks an upload's bytes; uploads confirmed on arrival get one born succeeded. */
export const CONFIRM_KIND = 'confirm';

/** What the confirm job learned of the stored bytes. */
export interface ConfirmedFacts {
  size: number;
  sha256: string;
  detectedContentType: string | null;
}

/**
 * The one way an upload becomes confirmed, inside the transaction that confirms it: the row says
 * so, its confirm job ends succeeded, and every module listening hears of it (previews start) in
 * the same commit. `t` wakes the workers of whatever the listeners enqueued once it commits.
 */
export const confirmations = {
  /**
   * Uploads confirmed as they are stored: their bytes are known already (deduplicated against a
   * confirmed upload, or streamed through the server and checked in the request).
   */
  async store(t: JobTransaction, events: ModuleEvents, rows: readonly NewUpload[]): Promise<void> {
    if (!rows.length) return;
    await jobsRepo.insertSucceeded(
      t.db,
      rows.map((row) => ({ id: row.confirm_job_id!, org_id: row.org_id, kind: CONFIRM_KIND, subject_id: row.id })),
    );
    await uploadsRepo.insert(t.db, [...rows]);
    await events.uploadsConfirmed(t, rows);
  },

  /** A pending upload whose confirm job `jobId` found its bytes good. */
  async mark(t: JobTransaction, events: ModuleEvents, row: UploadRow, jobId: string, facts: ConfirmedFacts): Promise<void> {
    await uploadsRepo.update(t.db, row.id, {
      status: 'confirmed',
      size_bytes: facts.size,
      sha256: facts.sha256,
      detected_content_type: facts.detectedContentType,
      failure_reason: null,
      confirmed_at: new Date(),
    });
    await jobsRepo.finish(t.db, jobId, { status: 'succeeded' });
    await events.uploadsConfirmed(t, [row]);
  },
};
