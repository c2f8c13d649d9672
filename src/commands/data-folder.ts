import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A filesystem error met while opening the data folder (creating it, its pg/ folder, its credentials
 * file), as one line that names the folder, says why and what to change; null for any other error.
 */
export function explainDataFolderError(error: unknown, dataDir: string): string | null {
  const e = error as NodeJS.ErrnoException;
  if (!e || typeof e.code !== 'string' || typeof e.path !== 'string') return null;
  const where = path.resolve(e.path);
  const inside = where === dataDir || where.startsWith(`${dataDir}${path.sep}`) || dataDir.startsWith(`${where}${path.sep}`);
  if (!inside) return null;
  const cannot = `cannot use the data folder ${dataDir}`;
  const elsewhere = 'set STOWAGE_DATA_DIR to a folder this user can write';
  switch (e.code) {
    case 'EEXIST':
    case 'ENOTDIR': {
      const file = firstFileOn(where);
      return file === dataDir || !file
        ? `${cannot}: it is a file, not a folder (${elsewhere})`
        : `${cannot}: ${file} is a file, not a folder (${elsewhere})`;
    }
    case 'EACCES':
    case 'EPERM':
      return `${cannot}: ${whoAmI()} may not ${e.syscall === 'mkdir' ? 'create' : 'write'} ${where} (give it write access, run as the folder's owner, or ${elsewhere})`;
    case 'EROFS':
      return `${cannot}: it is on a read-only filesystem (${elsewhere})`;
    case 'ENOSPC':
      return `${cannot}: the disk is full (free some space, or ${elsewhere})`;
    default:
      return null;
  }
}

/** The first path from the root down to `target` that exists and is not a folder. */
function firstFileOn(target: string): string | null {
  const parts = target.split(path.sep);
  for (let i = 2; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join(path.sep) || path.sep;
    try {
      if (!statSync(prefix).isDirectory()) return prefix;
    } catch {
      return null;
    }
  }
  return null;
}

function whoAmI(): string {
  try {
    return `user ${os.userInfo().username} (uid ${process.getuid?.()})`;
  } catch {
    return `uid ${process.getuid?.()}`;
  }
}
