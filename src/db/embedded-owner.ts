import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';

/** A server (start, serve, worker) needs the data folder to itself; a client (keys, migrate) joins whoever runs. */
export type OwnerRole = 'server' | 'client';

/** The process that started (or took over) the embedded PostgreSQL of a data folder, and stops it. */
export interface Owner {
  pid: number;
  role: OwnerRole;
  /** When the process started (Linux): a pid reused by another process after a crash is not the owner. */
  since: string | null;
}

/**
 * `<data folder>/pg/owner.json`. Claimed with an exclusive create; an owner that died without releasing
 * it (kill -9, a crash, a container restart) no longer counts, so its file never blocks the next start.
 */
export class OwnerFile {
  private claimed = false;

  constructor(readonly file: string) {}

  /** The owner, if it is a live process other than this one. */
  async live(): Promise<Owner | null> {
    const owner = await this.read();
    if (!owner || owner.pid === process.pid) return null;
    return isAlive(owner) ? owner : null;
  }

  /** Takes ownership unless a live process holds it; false when another one does (or just took it). */
  async claim(role: OwnerRole): Promise<boolean> {
    const mine: Owner = { pid: process.pid, role, since: startTimeOf(process.pid) };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.file, JSON.stringify(mine), { flag: 'wx', mode: 0o644 });
        this.claimed = true;
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (await this.live()) return false;
      await rm(this.file, { force: true }); // stale: its process is gone
    }
    return false;
  }

  async release(): Promise<void> {
    if (!this.claimed) return;
    this.claimed = false;
    const owner = await this.read();
    if (owner?.pid === process.pid) await rm(this.file, { force: true });
  }

  private async read(): Promise<Owner | null> {
    try {
      const owner = JSON.parse(await readFile(this.file, 'utf8')) as Owner;
      return Number.isInteger(owner.pid) ? owner : null;
    } catch {
      return null;
    }
  }
}

/** Whether a process with this pid exists; EPERM means it does, owned by another user (postgres). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isAlive(owner: Owner): boolean {
  if (!pidExists(owner.pid)) return false;
  const since = startTimeOf(owner.pid);
  return !owner.since || !since || since === owner.since;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null where there is no /proc. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
