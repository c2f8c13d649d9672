import { createHash, type Hash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, link, open, rename, rm, stat, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StowageClient } from '../client/api-client.js';
import { createProgress, human } from '../client/progress.js';
import { isUuid } from '../ids.js';
import { type ParsedArgs, CommandError, NotFoundError } from './args.js';
import { UnreachableError, clientFrom, networkFailure, originOf } from './client.js';

interface Upload {
  id: string;
  name: string;
  status: string;
  size_bytes: number | null;
  sha256: string | null;
}

/**
 * `stowage download ID [-o FILE|-] [--force]`: the bytes go to `<target>.<hash>.stowage-partial`, are
 * checked against the upload's sha256, then take the target's name. An interrupted run leaves the
 * partial file, and the next one continues it with a Range request after hashing what it holds.
 */
export async function runDownload(args: ParsedArgs): Promise<void> {
  const [id] = args.positional;
  if (!isUuid(id)) throw new NotFoundError(`no upload ${id} (upload ids look like 0190a5c4-0000-7000-8000-000000000000)`);
  const out = args.string('out') ?? args.string('output');
  const force = args.flag('force');
  const client = clientFrom(args);
  // A named target is checked before any request: a refused command asks nothing of the server.
  const named = out && out !== '-' ? await namedTarget(out, force) : null;

  const upload = await client.call<Upload>('GET', `/api/v1/uploads/${id}`);
  if (upload.status !== 'confirmed' || !upload.sha256) {
    throw new CommandError(`upload ${id} is ${upload.status}: only a confirmed upload can be downloaded`);
  }
  if (out === '-') return toStdout(client, upload);
  const target = named?.folder ? path.join(named.path, safeName(upload)) : (named?.path ?? path.resolve(safeName(upload)));
  if (!named || named.folder) await refuseToOverwrite(target, force);
  await toFile(client, upload, target, force);
  process.stdout.write(`${target}\n`);
}

/** The upload's name without any folder part: a name from the server never writes outside the target folder. */
function safeName(upload: Upload): string {
  const name = path.basename(upload.name.replaceAll('\\', '/'));
  return name && name !== '.' && name !== '..' ? name : `upload-${upload.id}`;
}

/** -o FILE, or -o FOLDER to keep the upload's name there; its folder must exist and be writable. */
async function namedTarget(out: string, force: boolean): Promise<{ path: string; folder: boolean }> {
  const resolved = path.resolve(out);
  const info = await stat(resolved).catch(() => null);
  if (info?.isDirectory()) return { path: resolved, folder: true };
  await writableFolder(path.dirname(resolved));
  await refuseToOverwrite(resolved, force);
  return { path: resolved, folder: false };
}

async function writableFolder(folder: string): Promise<void> {
  try {
    await access(folder, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CommandError(`cannot write in ${folder}: ${code === 'ENOENT' ? 'no such folder' : 'permission denied'}`);
  }
}

async function refuseToOverwrite(target: string, force: boolean): Promise<void> {
  const info = await stat(target).catch(() => null);
  if (!info) return;
  if (info.isDirectory()) throw new CommandError(`${target} is a folder; name the file to write with -o FILE`);
  if (!force) throw new CommandError(`${target} exists; add --force to overwrite it`);
}

async function toFile(client: StowageClient, upload: Upload, target: string, force: boolean): Promise<void> {
  const size = upload.size_bytes ?? 0;
  const partial = `${target}.${upload.sha256!.slice(0, 12)}.stowage-partial`;
  let have = (await stat(partial).catch(() => null))?.size ?? 0;
  if (have > size) {
    await rm(partial, { force: true });
    have = 0;
  }
  const progress = createProgress();
  const bar = progress.bar(safeName(upload), size);
  try {
    let hash = createHash('sha256');
    if (have > 0) await hashInto(hash, partial, bar.add);
    if (have === 0 || have < size) {
      const { url } = await client.call('GET', `/api/v1/uploads/${upload.id}/download-url`);
      let response = await fetchBlob(url, have);
      // A store that ignores Range answers every byte (200), and an answer from elsewhere is of no use:
      // start over.
      if (have > 0 && !(response.status === 206 && rangeStart(response) === have)) {
        if (response.status !== 200) {
          await response.body?.cancel();
          response = await fetchBlob(url, 0);
        }
        await truncate(partial, 0);
        hash = createHash('sha256');
        bar.add(-have);
        have = 0;
      }
      const received = await appendTo(partial, have, response, (chunk) => {
        hash.update(chunk);
        bar.add(chunk.length);
      });
      if (received.error) {
        const why = networkFailure(received.error) ?? received.error.message;
        throw new CommandError(
          `download interrupted after ${human(have + received.bytes)} of ${human(size)} (${why}); run the same command again to continue`,
        );
      }
    }
    bar.done();
    const sha256 = hash.digest('hex');
    if (sha256 !== upload.sha256) {
      await rm(partial, { force: true });
      throw new CommandError(`the downloaded bytes hash to ${sha256}, the upload's sha256 is ${upload.sha256}: file not kept`);
    }
  } finally {
    progress.stop();
  }
  await putInPlace(partial, target, force);
}

/**
 * Writes the answer's bytes after the first `from` of `file`, each chunk on disk before the next is
 * read (and only then handed to `onChunk`): when the connection breaks, the file holds every byte
 * received and nothing else, ready to be continued.
 */
async function appendTo(
  file: string,
  from: number,
  response: Response,
  onChunk: (chunk: Buffer) => void,
): Promise<{ bytes: number; error: Error | null }> {
  const handle = await open(file, from > 0 ? 'a' : 'w');
  let bytes = 0;
  try {
    for await (const chunk of Readable.fromWeb(response.body as never) as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      bytes += chunk.length;
      onChunk(chunk);
    }
    return { bytes, error: null };
  } catch (error) {
    return { bytes, error: error as Error };
  } finally {
    await handle.close();
  }
}

/** The blob URL's answer, from byte `from` on; network failures and refusals as one-line errors. */
async function fetchBlob(url: string, from: number): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, from > 0 ? { headers: { range: `bytes=${from}-` } } : {});
  } catch (error) {
    throw new UnreachableError(`cannot reach the storage at ${originOf(url)}: ${networkFailure(error) ?? (error as Error).message}`);
  }
  if (!response.ok || !response.body) {
    const text = (await response.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
    throw new CommandError(`the storage at ${originOf(url)} answered ${response.status}${text ? `: ${text}` : ''}`);
  }
  return response;
}

/** Without --force a hard link puts the file in place only if the name is still free when it lands. */
async function putInPlace(partial: string, target: string, force: boolean): Promise<void> {
  if (force) return rename(partial, target);
  try {
    await link(partial, target);
    await unlink(partial);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CommandError(`${target} exists; add --force to overwrite it (the verified bytes wait in ${partial})`);
    // A filesystem without hard links: the check made before downloading stands.
    await refuseToOverwrite(target, false);
    await rename(partial, target);
  }
}

async function toStdout(client: StowageClient, upload: Upload): Promise<void> {
  const { url } = await client.call('GET', `/api/v1/uploads/${upload.id}/download-url`);
  const response = await fetchBlob(url, 0);
  const hash = createHash('sha256');
  try {
    await pipeline(
      Readable.fromWeb(response.body as never),
      meter(hash, () => {}),
      process.stdout as Writable,
      { end: false },
    );
  } catch (error) {
    // The reader went away (`| head`): what it wanted it has; nothing to say.
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
      process.exitCode = 1;
      return;
    }
    throw new CommandError(
      `download interrupted (${networkFailure(error) ?? (error as Error).message}); the bytes on stdout are incomplete`,
    );
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== upload.sha256) {
    throw new CommandError(`the bytes written to stdout hash to ${sha256}, the upload's sha256 is ${upload.sha256}: do not use them`);
  }
}

/** Where a 206 answer's bytes start (`Content-Range: bytes 1048576-3145727/3145728`). */
function rangeStart(response: Response): number {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : -1;
}

function meter(hash: Hash, onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

async function hashInto(hash: Hash, file: string, onBytes: (n: number) => void): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    onBytes((chunk as Buffer).length);
  }
}
