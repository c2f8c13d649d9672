import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createProgress, human } from './progress.js';
import type { Db } from '../db/database.js';
import type { BlobReader, ChainBreak, VerifyReport } from '../modules/files/verify.js';
import { isUuid } from '../ids.js';
import { type ParsedArgs, NotFoundError, UsageError } from './args.js';

/** Below this, hashing is over before a bar would draw. */
const PROGRESS_FROM_BYTES = 64 * 1024 * 1024;

/**
 * `stowage files verify ID` straight on the database and the blob store, like `stowage keys`: it must
 * not depend on the server it checks. Exit 0 when the chain holds, 1 at a break or an unknown file.
 */
export async function runFiles(config: Config, args: ParsedArgs): Promise<void> {
  const [id] = args.positional;
  const orgName = args.string('org');
  if (orgName === '') throw new UsageError('--org needs a name (see stowage files verify --help)');
  // No file has an id that is not a UUID: said before any database starts.
  if (!isUuid(id)) throw new NotFoundError(`no file ${id} (file ids look like 0190a5c4-0000-7000-8000-000000000000)`);

  // Only what verifying needs is loaded (not the runtime, with its queue, metrics and logger): start-up
  // is part of every verify, and on a 1 GiB file it would otherwise cost a fifth of the hashing time.
  const [{ resolveDatabase }, { openDatabase }, { verifyFile }] = await Promise.all([
    import('../db/connect.js'),
    import('../db/database.js'),
    import('../modules/files/verify.js'),
  ]);
  const target = await resolveDatabase(config, undefined, 'client');
  const database = openDatabase(target.url, { max: 2 });
  const progress = createProgress();
  try {
    const blobs = await openBlobReader(config);
    let report: VerifyReport;
    try {
      const orgId = orgName ? await orgIdByName(database.db, orgName) : null;
      let bar: ReturnType<typeof progress.bar> | null = null;
      let shown = 0;
      report = await verifyFile(database.db, blobs, orgId, id, {
        onProgress: (done, total) => {
          if (total < PROGRESS_FROM_BYTES) return;
          bar ??= progress.bar(`verify ${id.slice(0, 8)}`, total);
          bar.add(done - shown);
          shown = done;
        },
      });
    } finally {
      progress.stop();
    }
    printReport(report);
    if (report.firstBreak) process.exitCode = 1;
  } catch (error) {
    if (error instanceof NoSuchOrg) {
      process.stderr.write(`stowage: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (error instanceof AppError && error.status === 404) {
      process.stderr.write(`stowage: no file ${id}${orgName ? ` in organisation "${orgName}"` : ''}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  } finally {
    await database.close();
    await target.release();
  }
}

class NoSuchOrg extends Error {}

async function orgIdByName(db: Db, name: string): Promise<string> {
  const { keysRepo } = await import('../modules/keys/repo.js');
  const org = await keysRepo.findOrgByName(db, name);
  if (!org) throw new NoSuchOrg(`organisation "${name}" not found`);
  return org.id;
}

/**
 * The blob store of the configuration, as runtime's openBlobStore makes it but without init(): a
 * verifier only reads, so it must not create a bucket or folders, and it signs no URL, so the server's
 * signing secret is not needed.
 */
async function openBlobReader(config: Config): Promise<BlobReader> {
  if (config.s3) return new (await import('../blobs/s3.js')).S3BlobStore(config.s3);
  const [{ LocalBlobStore }, { BlobUrlSigner }] = await Promise.all([import('../blobs/local.js'), import('../blobs/signed-url.js')]);
  return new LocalBlobStore(path.join(config.dataDir, 'blobs'), new BlobUrlSigner(randomBytes(32).toString('hex')));
}

function printReport(report: VerifyReport): void {
  const out: string[] = [];
  out.push(
    `file ${report.fileId}${report.deleted ? ' (in the trash)' : ''}: tip ver ${report.tip.ver} ${report.tip.cid ?? '(no content yet)'}`,
  );
  for (const v of report.versions) {
    out.push(`  ver ${v.ver}  ${v.cid}  ${v.breaks.length ? `BROKEN: ${v.breaks.map((b) => reason(b)).join('; ')}` : 'ok'}`);
  }
  for (const b of report.fileBreaks) out.push(`  tip  BROKEN: ${reason(b)}`);
  const t = report.totals;
  out.push(
    `${t.versions} version${t.versions === 1 ? '' : 's'}, ${t.uploads} content${t.uploads === 1 ? '' : 's'} read (${human(t.bytesHashed)}) in ${t.seconds.toFixed(2)} s`,
  );
  const first = report.firstBreak;
  if (first) {
    out.push(`FIRST BREAK at ${first.ver === null ? "the file's tip" : `version ${first.ver}`}, check ${first.check}: ${first.message}`);
    out.push(`  expected: ${first.expected ?? 'null'}`);
    out.push(`  actual:   ${first.actual ?? 'null'}`);
  } else {
    out.push('chain holds: every cid, prev_cid and content_cid recomputed from the records and the stored bytes');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

const reason = (b: ChainBreak) => `${b.check}: ${b.message}`;
