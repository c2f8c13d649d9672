/**
 * Re-verifies a file's whole history from what is stored, trusting nothing the writer computed: every
 * version's cid is recomputed from its record, every prev_cid must be the cid before it, the file's tip
 * must be the last version, and the bytes of every version are read back and hashed.
 *
 * What it can prove and what not: a row changed after it was written (a property, a note, a prev_cid),
 * a version removed from the middle, or bytes changed in storage are all found. Someone who rewrites a
 * version *and* recomputes every cid after it *and* moves the tip has made a new, consistent chain; only
 * a cid held outside Stowage (a tip a client kept) tells that apart.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobError } from '../../blobs/blob-store.js';
import type { Executor } from '../../db/database.js';
import type { FileVersionRow } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import { isUuid } from '../../ids.js';
import { contentCid, versionCid, versionRecordOf } from './cid.js';

/** What reads a blob: every BlobStore does. */
export interface BlobReader {
  read(key: string): Promise<Readable>;
}

/** Which rule a break is against, in the order a version's checks run. */
export type VerifyCheck =
  /** ver numbers run 1..n without a gap */
  | 'ver'
  /** prev_cid is the cid of the version before (null for version 1) */
  | 'prev_cid'
  /** the stored cid is the dag-cbor hash of the stored record */
  | 'cid'
  /** the bytes are there at all */
  | 'content'
  | 'size'
  | 'sha256'
  | 'content_cid'
  /** the file's tip (ver, cid) is its last version */
  | 'tip';

export interface ChainBreak {
  /** null for a break of the file row itself (its tip). */
  ver: number | null;
  check: VerifyCheck;
  expected: string | null;
  actual: string | null;
  message: string;
}

export interface VersionVerdict {
  ver: number;
  cid: string;
  /** Every rule this version breaks, in check order; empty when it holds. */
  breaks: ChainBreak[];
}

export interface VerifyReport {
  fileId: string;
  deleted: boolean;
  tip: { ver: number; cid: string | null };
  versions: VersionVerdict[];
  /** Breaks of the file row (the tip), found after the versions. */
  fileBreaks: ChainBreak[];
  /** The first break in version order, then the tip's; null when the whole chain holds. */
  firstBreak: ChainBreak | null;
  totals: { versions: number; brokenVersions: number; uploads: number; bytesHashed: number; seconds: number };
}

export interface VerifyOptions {
  /** Told after every chunk hashed: bytes read so far and the stored size of all distinct uploads. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Versions read per query: a file with thousands of versions is never held in memory at once. */
  pageSize?: number;
}

/** What one upload's bytes turned out to be (or that they are gone). */
type Hashed = { sha256: string; size: number } | { missing: string };

/**
 * Verifies file `fileId` (of org `orgId`, or of any org when null). Throws a 404 AppError when there
 * is no such file; a break is an answer, not an error.
 */
export async function verifyFile(
  db: Executor,
  blobs: BlobReader,
  orgId: string | null,
  fileId: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const started = performance.now();
  if (!isUuid(fileId)) throw notFound('file');
  let fileQuery = db.selectFrom('files').select(['id', 'ver', 'cid', 'deleted_at']).where('id', '=', fileId);
  if (orgId) fileQuery = fileQuery.where('org_id', '=', orgId);
  const file = await fileQuery.executeTakeFirst();
  if (!file) throw notFound('file');

  const uploads = await db
    .selectFrom('uploads')
    .select(['id', 'blob_key', 'size_bytes', 'blob_purged_at'])
    .where('id', 'in', db.selectFrom('file_versions').select('upload_id').where('file_id', '=', file.id))
    .execute();
  const uploadById = new Map(uploads.map((u) => [u.id, u]));
  const bytesTotal = uploads.reduce((sum, u) => sum + Number(u.size_bytes ?? 0), 0);
  let bytesDone = 0;
  const hashed = new Map<string, Hashed>();

  const hashUpload = async (uploadId: string): Promise<Hashed> => {
    const known = hashed.get(uploadId);
    if (known) return known;
    const upload = uploadById.get(uploadId);
    let result: Hashed;
    if (!upload) result = { missing: `its upload ${uploadId} is gone` };
    else if (upload.blob_purged_at) result = { missing: `the bytes of upload ${uploadId} were purged` };
    else result = await hashBlob(blobs, upload.blob_key, (n) => options.onProgress?.((bytesDone += n), bytesTotal));
    hashed.set(uploadId, result);
    return result;
  };

  const versions: VersionVerdict[] = [];
  let previous: { ver: number; cid: string } | null = null;
  const pageSize = options.pageSize ?? 500;
  for (let after = 0; ;) {
    const page = await db
      .selectFrom('file_versions')
      .selectAll()
      .where('file_id', '=', file.id)
      .where('ver', '>', after)
      .orderBy('ver')
      .limit(pageSize)
      .execute();
    for (const row of page) {
      const breaks = checkRecord(row, previous);
      breaks.push(...checkContent(row, await hashUpload(row.upload_id)));
      versions.push({ ver: row.ver, cid: row.cid, breaks });
      previous = { ver: row.ver, cid: row.cid };
    }
    if (page.length < pageSize) break;
    after = page[page.length - 1].ver;
  }

  const fileBreaks = checkTip(file, previous);
  const firstBreak = versions.find((v) => v.breaks.length)?.breaks[0] ?? fileBreaks[0] ?? null;
  return {
    fileId: file.id,
    deleted: file.deleted_at !== null,
    tip: { ver: file.ver, cid: file.cid },
    versions,
    fileBreaks,
    firstBreak,
    totals: {
      versions: versions.length,
      brokenVersions: versions.filter((v) => v.breaks.length).length,
      uploads: hashed.size,
      bytesHashed: bytesDone,
      seconds: (performance.now() - started) / 1000,
    },
  };
}

/** The version's own record and its link to the one before. */
function checkRecord(row: FileVersionRow, previous: { ver: number; cid: string } | null): ChainBreak[] {
  const breaks: ChainBreak[] = [];
  const at = (check: VerifyCheck, expected: string | null, actual: string | null, message: string) =>
    breaks.push({ ver: row.ver, check, expected, actual, message });

  const expectedVer = (previous?.ver ?? 0) + 1;
  if (row.ver !== expectedVer)
    at(
      'ver',
      String(expectedVer),
      String(row.ver),
      `version ${expectedVer} is missing: version ${row.ver} follows ${previous?.ver ?? 'nothing'}`,
    );

  const expectedPrev = previous?.cid ?? null;
  if (row.prev_cid !== expectedPrev)
    at(
      'prev_cid',
      expectedPrev,
      row.prev_cid,
      previous ? `prev_cid is not the cid of version ${previous.ver}` : 'version 1 has a prev_cid',
    );

  let recomputed: string | null = null;
  let failure = '';
  try {
    recomputed = versionCid(versionRecordOf(row));
  } catch (error) {
    // A record that cannot even be encoded (a prev_cid that is no CID, a ts that is no integer) was
    // not written by Stowage: it cannot have the stored cid.
    failure = error instanceof Error ? error.message : String(error);
  }
  if (recomputed !== row.cid)
    at(
      'cid',
      row.cid,
      recomputed,
      recomputed === null ? `the record cannot be encoded: ${failure}` : 'the record does not hash to the stored cid',
    );
  return breaks;
}

/** The bytes against what the version says about them (which its cid covers). */
function checkContent(row: FileVersionRow, bytes: Hashed): ChainBreak[] {
  const at = (check: VerifyCheck, expected: string | null, actual: string | null, message: string): ChainBreak => ({
    ver: row.ver,
    check,
    expected,
    actual,
    message,
  });
  if ('missing' in bytes) return [at('content', 'the stored bytes', null, bytes.missing)];
  const said = row.properties;
  const text = (value: unknown) => (value === undefined || value === null ? null : String(value));
  const breaks: ChainBreak[] = [];
  if (text(said.size) !== String(bytes.size))
    breaks.push(at('size', text(said.size), String(bytes.size), 'the stored bytes are not the size the version records'));
  if (text(said.sha256) !== bytes.sha256)
    breaks.push(at('sha256', text(said.sha256), bytes.sha256, 'the stored bytes do not hash to the sha256 the version records'));
  const actualCid = contentCid(bytes.sha256);
  if (text(said.content_cid) !== actualCid)
    breaks.push(at('content_cid', text(said.content_cid), actualCid, 'the stored bytes do not have the content_cid the version records'));
  return breaks;
}

function checkTip(file: { ver: number; cid: string | null }, last: { ver: number; cid: string } | null): ChainBreak[] {
  const lastVer = last?.ver ?? 0;
  const lastCid = last?.cid ?? null;
  if (file.ver === lastVer && file.cid === lastCid) return [];
  return [
    {
      ver: null,
      check: 'tip',
      expected: `${lastVer} ${lastCid ?? 'null'}`,
      actual: `${file.ver} ${file.cid ?? 'null'}`,
      message: last ? `the file's tip is not its last version (${last.ver})` : 'the file names a tip but has no versions',
    },
  ];
}

/** sha256 and size of a blob, streamed: a chunk at a time, never the whole file in memory. */
async function hashBlob(blobs: BlobReader, key: string, onBytes: (n: number) => void): Promise<Hashed> {
  let stream: Readable;
  try {
    stream = await blobs.read(key);
  } catch (error) {
    if (error instanceof BlobError && error.kind === 'missing') return { missing: `no stored bytes at ${key}` };
    throw error;
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    onBytes(chunk.length);
  }
  return { sha256: hash.digest('hex'), size };
}
