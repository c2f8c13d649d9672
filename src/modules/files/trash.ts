import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { grants } from '../../access/scopes.js';
import { insufficientScope } from '../../errors.js';
import type { ModuleDeps } from '../module.js';
import { purgeFile } from '../sweeper/purge.js';
import { filesRepo } from './repo.js';
import { tipOf } from './versions.js';
import { fileView } from './view.js';

/** The files trash: hidden and unreachable but recoverable until the sweeper purges it, or purged at once. */
export class FileTrash {
  constructor(private readonly deps: ModuleDeps) {}

  /** Into the trash: hidden from lists, its content unreachable, recoverable until the sweeper purges it. */
  async delete(caller: Principal, id: string, options: { permanent: boolean }) {
    if (options.permanent) {
      if (!grants(caller.scopes, 'admin')) throw insufficientScope('admin');
      const file = await findOwned(this.deps.db, caller, 'file', id);
      await purgeFile(this.deps.db, this.deps.blobs, file.id);
      return { message: `file ${file.filename} purged with its versions` };
    }
    const file = await this.deps.db.transaction().execute(async (tx) => {
      const row = await findOwned(tx, caller, 'file', id, { lock: true });
      return row.deleted_at ? row : filesRepo.update(tx, row.id, { deleted_at: new Date() });
    });
    return fileView(file, await tipOf(this.deps.db, file));
  }

  async recover(caller: Caller, id: string) {
    const file = await this.deps.db.transaction().execute(async (tx) => {
      const row = await findOwned(tx, caller, 'file', id, { lock: true });
      return row.deleted_at ? filesRepo.update(tx, row.id, { deleted_at: null }) : row;
    });
    return fileView(file, await tipOf(this.deps.db, file));
  }
}
