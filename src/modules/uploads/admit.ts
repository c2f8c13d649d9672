import type { Executor } from '../../db/database.js';
import { conflict, notFound } from '../../errors.js';
import { uploadsRepo } from './repo.js';

/**
 * Whether the upload owning blob `key` still takes bytes through a URL signed for it: a presigned
 * URL cannot be revoked, so the local driver asks before and after every PUT. Pending only, and
 * not expired when the bytes start (a transfer begun in time may end after); cancelled, failed
 * and confirmed uploads are a 409 naming their status.
 */
export async function admitBlobBytes(db: Executor, key: string, moment: 'before' | 'after' = 'before'): Promise<void> {
  const row = await uploadsRepo.findOwnerOfBlob(db, key);
  if (!row) throw notFound('upload');
  // A failed upload may still be retried (bytes first, then retry), as on S3, unless it expired or
  // its bytes were purged; a cancelled or confirmed one never takes bytes again.
  const retryable = row.status === 'failed' && row.failure_reason !== 'expired' && row.blob_purged_at === null;
  if (row.status !== 'pending' && !retryable) {
    throw conflict(`this upload is ${row.status}: its URL takes no bytes any more`, { status: row.status });
  }
  if (moment === 'before' && row.status === 'pending' && row.expires_at.getTime() <= Date.now()) {
    throw conflict('this upload has expired: its URL takes no bytes any more; presign again', { status: 'expired' });
  }
}
