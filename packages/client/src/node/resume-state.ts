import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** What a multipart upload interrupted mid-way leaves behind so the next run can take it up. */
export interface ResumeState {
  uploadId: string;
  /** Once the file has been hashed: the next run need not hash it again. */
  sha256?: string;
}

/** `$STOWAGE_CACHE_DIR`, else `$XDG_CACHE_HOME/stowage`, else `~/.cache/stowage`: where the `stowage` CLI keeps its state too. */
export function defaultStateDir(): string {
  return process.env.STOWAGE_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'stowage');
}

/**
 * One state file per server, file path, size and modification time: a file changed since is a new
 * upload, never the continuation of the old one.
 */
export function resumeStateFile(stateDir: string, baseUrl: string, file: string, size: number, mtimeMs: number): string {
  const id = createHash('sha256').update(`${baseUrl}\0${file}\0${size}\0${mtimeMs}`).digest('hex').slice(0, 32);
  return path.join(stateDir, 'uploads', `${id}.json`);
}

export async function readResumeState(file: string): Promise<ResumeState | null> {
  try {
    const state = JSON.parse(await readFile(file, 'utf8')) as ResumeState;
    return typeof state.uploadId === 'string' ? state : null;
  } catch {
    return null;
  }
}

/** Written whole, then renamed into place: an interrupted write never leaves half a state. */
export async function writeResumeState(file: string, state: ResumeState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(state), { mode: 0o600 });
  await rename(temp, file);
}

export async function removeResumeState(file: string): Promise<void> {
  await rm(file, { force: true });
}
