import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { StowageError, type StowageClient } from '#sdk';
import { type UploadProgress, uploadFile } from '#sdk/node';
import { type Progress, createProgress } from './progress.js';
import type { ParsedArgs } from './args.js';
import { UnreachableError, clientFrom, networkFailure } from './client.js';

/**
 * `stowage upload FILE…`: the SDK's uploadFile for each file (presign or parallel parts by size, the
 * sha256 computed while the parts go out, resume, verdict), one id per confirmed file on stdout.
 * A file that cannot be read or is refused gets one line and the others still go (exit 1 at the end);
 * a server that does not answer or a key it refuses stops the whole command, as every file would fail.
 */
export async function runUpload(args: ParsedArgs): Promise<void> {
  const client = clientFrom(args);
  const options = { parallel: args.number('parallel'), partSize: args.number('part-size') };
  const progress = createProgress();
  let failed = 0;
  const fail = (file: string, why: string) => {
    failed++;
    process.stderr.write(`stowage: ${file}: ${why}\n`);
  };
  try {
    for (const file of args.positional) {
      const unusable = await unreadable(file);
      if (unusable) {
        fail(file, unusable);
        continue;
      }
      try {
        const upload = await uploadFile(client, file, { ...options, onProgress: reporter(path.basename(file), progress) });
        if (upload.status === 'confirmed') process.stdout.write(`${upload.id}\n`);
        else fail(file, `${upload.status} (${upload.failure_reason ?? 'unknown'}) — upload ${upload.id}`);
      } catch (error) {
        const keyRefused = error instanceof StowageError && (error.status === 401 || error.status === 403);
        if (error instanceof UnreachableError || keyRefused || !(error instanceof Error)) throw error;
        const lost = networkFailure(error);
        fail(file, lost ? `storage connection lost (${lost}); run the same command again to resume` : error.message);
      }
    }
  } finally {
    progress.stop();
  }
  if (failed) process.exitCode = 1;
}

/**
 * One bar per file, from the SDK's progress reports. A resumed upload says so first, and its bar
 * starts at the bytes already stored, so the rate it shows is of this run's bytes only.
 */
function reporter(name: string, progress: Progress): (report: UploadProgress) => void {
  let bar: ReturnType<Progress['bar']> | null = null;
  let shown = 0;
  return (report) => {
    if (!bar) {
      if (report.resumed) {
        process.stderr.write(
          `stowage: resuming upload ${report.uploadId}, ${report.resumedParts} of ${report.totalParts} parts already stored\n`,
        );
      }
      bar = progress.bar(name, report.totalBytes, report.resumedBytes);
      shown = report.resumedBytes;
    }
    bar.add(report.doneBytes - shown);
    shown = report.doneBytes;
    if (report.stage === 'confirming') bar.done();
  };
}

/** Why `file` cannot be uploaded, in a few words, or null when it can be read. */
async function unreadable(file: string): Promise<string | null> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) return 'is a folder (upload takes files)';
    if (!info.isFile()) return 'is not a regular file';
    await access(file, constants.R_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES' || code === 'EPERM') return 'not readable (permission denied)';
    if (code === 'ENOTDIR') return 'no such file (a part of the path is a file)';
    return (error as Error).message;
  }
}
