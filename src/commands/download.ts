import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { type StowageClient, type Upload, unwrap } from '#sdk';
import { type DownloadProgress, downloadFile, downloadToStream } from '#sdk/node';
import { createProgress, human } from './progress.js';
import { isUuid } from '../ids.js';
import { type ParsedArgs, CommandError, NotFoundError } from './args.js';
import { clientFrom, networkFailure } from './client.js';

/**
 * `stowage download ID [-o FILE|-] [--force]`: the SDK's downloadFile, whose bytes go to
 * `<target>.<hash>.part`, are checked against the upload's sha256, then take the target's name. An
 * interrupted run leaves the partial file, and the next one continues it with a Range request after
 * hashing what it holds.
 */
export async function runDownload(args: ParsedArgs): Promise<void> {
  const [id] = args.positional;
  if (!isUuid(id)) throw new NotFoundError(`no upload ${id} (upload ids look like 0190a5c4-0000-7000-8000-000000000000)`);
  const out = args.string('out') ?? args.string('output');
  const force = args.flag('force');
  const client = clientFrom(args);
  // A named target is checked before any request: a refused command asks nothing of the server.
  const named = out && out !== '-' ? await namedTarget(out, force) : null;

  const upload = unwrap(await client.GET('/api/v1/uploads/{data_source_id}', { params: { path: { data_source_id: id } } }));
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
  const progress = createProgress();
  let bar: ReturnType<typeof progress.bar> | null = null;
  let done = 0;
  const onProgress = (report: DownloadProgress) => {
    bar ??= progress.bar(safeName(upload), size, report.resumedBytes);
    bar.add(report.doneBytes - done);
    done = report.doneBytes;
  };
  try {
    await downloadFile(client, upload.id, target, { overwrite: force, onProgress });
  } catch (error) {
    throw inWords(error, `download interrupted after ${human(done)} of ${human(size)}`, 'run the same command again to continue');
  } finally {
    progress.stop();
  }
}

async function toStdout(client: StowageClient, upload: Upload): Promise<void> {
  try {
    await downloadToStream(client, upload.id, process.stdout);
  } catch (error) {
    // The reader went away (`| head`): what it wanted it has; nothing to say.
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
      process.exitCode = 1;
      return;
    }
    throw inWords(error, 'download interrupted', 'the bytes on stdout are incomplete', 'do not use the bytes on stdout');
  }
}

/** The SDK's failures as one line: cut transfers, bytes that do not verify, a target that appeared meanwhile. */
function inWords(error: unknown, cut: string, then: string, bad = 'file not kept'): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return new CommandError(`${(error as { path: string }).path} exists; add --force to overwrite it`);
  if (code === 'checksum_mismatch') return new CommandError(`${(error as Error).message}: ${bad}`);
  if (!(error instanceof Error) || error instanceof CommandError || error.name === 'StowageError') return error;
  // Anything else cut the transfer short (a reset, a body that ended early): say so and how to go on.
  return new CommandError(`${cut} (${networkFailure(error) ?? error.message}); ${then}`);
}
