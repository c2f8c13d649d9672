import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Harness } from './harness.js';

/**
 * Every object storage holds for this harness: on the local driver every file under blobs/, temp
 * and part files included; on S3 every object of the bucket.
 */
export async function countBlobFiles(h: Harness): Promise<number> {
  if (h.config.storageDriver === 'local') return countFilesUnder(path.join(h.dataDir, 'blobs'));
  let n = 0;
  for (let after = ''; ;) {
    const page = await h.runtime.blobs.list({ after, limit: 1000 });
    n += page.length;
    if (page.length < 1000) return n;
    after = page[page.length - 1]!.key;
  }
}

export async function countFilesUnder(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    n += entry.isDirectory() ? await countFilesUnder(path.join(dir, entry.name)) : 1;
  }
  return n;
}
