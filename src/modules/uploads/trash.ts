import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { grants } from '../../access/scopes.js';
import type { Executor } from '../../db/database.js';
import { conflict, insufficientScope } from '../../errors.js';
import type { ModuleDeps } from '../module.js';
import { purgeUpload } from '../sweeper/purge.js';
import { uploadsRepo } from './repo.js';
import { uploadView } from './view.js';

/** How many of the rows using an upload a 409 names. */
const NAMED_USERS = 20;

/**
 * The uploads trash: a confirmed or failed upload is deleted softly (hidden from lists, its bytes
 * unreachable, recoverable) until the retention period ends; never while a live file version or a
 * dataset link uses it.
 */
export class UploadTrash {
  constructor(private readonly deps: ModuleDeps) {}

  async delete(caller: Principal, id: string, options: { permanent: boolean }) {
    if (options.permanent && !grants(caller.scopes, 'admin')) throw insufficientScope('admin');
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const upload = await findOwned(tx, caller, 'upload', id, { lock: true });
      if (upload.status !== 'confirmed' && upload.status !== 'failed') {
        const hint = upload.status === 'pending' ? 'cancel it instead' : 'the sweeper removes cancelled uploads';
        throw conflict(`a ${upload.status} upload cannot be deleted: ${hint}`, { status: upload.status });
      }
      await refuseWhileUsed(tx, upload.id);
      return upload.deleted_at ? upload : uploadsRepo.update(tx, upload.id, { deleted_at: new Date() });
    });
    if (!options.permanent) return uploadView(row);
    if ((await purgeUpload(this.deps.db, this.deps.blobs, row.id)) === 'in_use') {
      throw conflict('a file in the trash still uses this upload: purge that file first; the upload stays in the trash', {
        status: 'deleted',
      });
    }
    return { message: `upload ${row.name} purged` };
  }

  async recover(caller: Caller, id: string) {
    return this.deps.db.transaction().execute(async (tx) => {
      const upload = await findOwned(tx, caller, 'upload', id, { lock: true });
      if (upload.blob_purged_at) throw conflict('this upload was purged: its bytes are gone; upload the file again', { status: 'purged' });
      return uploadView(upload.deleted_at ? await uploadsRepo.update(tx, upload.id, { deleted_at: null }) : upload);
    });
  }
}

/** 409 naming the live file versions and the dataset links that use the upload. */
async function refuseWhileUsed(db: Executor, uploadId: string): Promise<void> {
  const [versions, links] = await Promise.all([
    db
      .selectFrom('file_versions as v')
      .innerJoin('files as f', 'f.id', 'v.file_id')
      .select(['v.file_id', 'v.ver'])
      .where('v.upload_id', '=', uploadId)
      .where('f.deleted_at', 'is', null)
      .orderBy('v.file_id')
      .orderBy('v.ver')
      .limit(NAMED_USERS)
      .execute(),
    db.selectFrom('dataset_links').select(['id', 'part_revision_id']).where('upload_id', '=', uploadId).limit(NAMED_USERS).execute(),
  ]);
  if (!versions.length && !links.length) return;
  throw conflict('this upload is in use: delete the files that use it, and detach its dataset links, first', {
    file_versions: versions,
    dataset_links: links.map((l) => ({ dataset_link_id: l.id, part_revision_id: l.part_revision_id })),
  });
}
