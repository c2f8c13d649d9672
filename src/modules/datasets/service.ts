import type { Db, Executor } from '../../db/database.js';
import type { Page } from '../../db/keyset.js';
import type { Attributes, PartRevisionRow } from '../../db/schema.js';
import { conflict, notFound } from '../../errors.js';
import { isUuid, newId } from '../../ids.js';
import type { Caller } from '../../access/caller.js';
import { datasetRepo } from './repo.js';
import type { DatasetUpdate } from './schema.js';
import { cleanFilename } from '../names.js';
import { lockedRevision, ownedRevision } from '../revisions/lookup.js';
import { planAttach } from './primary.js';
import { roleFor } from './roles.js';
import { linkView } from './view.js';

export interface AttachInput {
  data_source_id: string;
  role?: string;
  is_primary?: boolean;
  attributes?: Attributes;
}

/**
 * Uploads linked to a revision. Every change runs in one transaction that first row-locks the
 * revision, so the "exactly one primary among the active links" rule is decided on a stable view;
 * the unique partial index on the primary flag backs it up.
 */
export class DatasetService {
  constructor(private readonly db: Db) {}

  async list(caller: Caller, partId: string, revisionId: string, options: { includeInactive: boolean } & Page) {
    const revision = await ownedRevision(this.db, caller, partId, revisionId);
    const { rows, count, nextCursor } = await datasetRepo.list(this.db, revision.id, options);
    return { count, data: rows.map(linkView), next_cursor: nextCursor };
  }

  /** 404 unless the revision is the caller's: checked before a one-shot upload reads its body. */
  async assertRevision(caller: Caller, partId: string, revisionId: string): Promise<void> {
    await ownedRevision(this.db, caller, partId, revisionId);
  }

  async attach(caller: Caller, partId: string, revisionId: string, input: AttachInput) {
    return this.db.transaction().execute(async (tx) => {
      const revision = await lockedRevision(tx, caller, partId, revisionId);
      const upload = isUuid(input.data_source_id)
        ? await datasetRepo.findUploadForShare(tx, caller.orgId, input.data_source_id)
        : undefined;
      if (!upload) throw notFound('upload');
      if (upload.deleted_at) {
        throw conflict('an upload in the trash cannot be attached: recover it first', { data_source_id: upload.id, status: 'deleted' });
      }
      if (upload.status === 'cancelled') {
        throw conflict('a cancelled upload cannot be attached', { data_source_id: upload.id, status: upload.status });
      }
      const active = await datasetRepo.active(tx, revision.id);
      const same = active.find((l) => l.upload_id === upload.id);
      if (same) throw conflict('this upload is already attached to the revision', { dataset_link_id: same.id });

      const plan = planAttach(active, upload.name, input.is_primary);
      await datasetRepo.supersede(tx, plan.superseded);
      if (plan.newIsPrimary) await datasetRepo.demote(tx, revision.id);
      else if (plan.promote) await datasetRepo.promote(tx, plan.promote);
      const id = newId();
      await datasetRepo.insert(tx, {
        id,
        org_id: caller.orgId,
        part_revision_id: revision.id,
        upload_id: upload.id,
        role: input.role ?? roleFor(upload.name),
        is_primary: plan.newIsPrimary,
        attributes: input.attributes ?? {},
      });
      return this.view(tx, revision, id);
    });
  }

  async update(caller: Caller, partId: string, revisionId: string, linkId: string, input: DatasetUpdate) {
    const filename = input.filename === undefined ? undefined : cleanFilename(input.filename, 'body.filename');
    return this.db.transaction().execute(async (tx) => {
      const revision = await lockedRevision(tx, caller, partId, revisionId);
      const link = await this.link(tx, revision, linkId);
      if (filename !== undefined && filename !== link.filename) {
        // A rename is an edit, not a new upload: it never supersedes, so it must not make two active links look alike.
        const taken = await datasetRepo.nameTakenNextTo(tx, link.upload_id, filename);
        if (taken) {
          throw conflict(`another active dataset on a revision using this upload is already named ${filename}`, {
            dataset_link_id: taken.id,
            part_revision_id: taken.part_revision_id,
          });
        }
        await datasetRepo.renameUpload(tx, link.upload_id, filename);
      }
      if (input.is_primary === true && !link.is_primary) {
        if (!link.is_active) throw conflict('a superseded (inactive) dataset cannot be the primary', { is_active: false });
        await datasetRepo.demote(tx, revision.id);
        await datasetRepo.promote(tx, link.id);
      }
      // The primary only moves by promoting another link: demoting it would leave the revision without one,
      // and picking a successor here would choose for the caller (detach and supersede have no other way).
      if (input.is_primary === false && link.is_primary) {
        throw conflict('a revision with active datasets keeps exactly one primary: promote another dataset instead', { is_primary: true });
      }
      return this.view(tx, revision, link.id);
    });
  }

  /** Removes the link, never the upload; a detached primary hands over to the newest remaining active link. */
  async detach(caller: Caller, partId: string, revisionId: string, linkId: string) {
    return this.db.transaction().execute(async (tx) => {
      const revision = await lockedRevision(tx, caller, partId, revisionId);
      const link = await this.link(tx, revision, linkId);
      await datasetRepo.delete(tx, link.id);
      if (link.is_primary) {
        const [newest] = await datasetRepo.active(tx, revision.id);
        if (newest) await datasetRepo.promote(tx, newest.id);
      }
      return { message: `dataset ${link.filename} detached from revision ${revision.revision_code}; the upload is kept` };
    });
  }

  private async link(tx: Executor, revision: PartRevisionRow, linkId: string) {
    const link = isUuid(linkId) ? await datasetRepo.find(tx, revision.id, linkId) : undefined;
    if (!link) throw notFound('dataset link');
    return link;
  }

  private async view(tx: Executor, revision: PartRevisionRow, linkId: string) {
    return linkView(await this.link(tx, revision, linkId));
  }
}
