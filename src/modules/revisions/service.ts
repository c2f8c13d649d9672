import type { Db } from '../../db/database.js';
import type { Page } from '../../db/keyset.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { conflict, notFound, validationError } from '../../errors.js';
import { isUuid, newId } from '../../ids.js';
import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { cleanLabel } from '../names.js';
import { lockedRevision, ownedRevision } from './lookup.js';
import { partRepo } from '../parts/repo.js';
import type { RevisionCreate, RevisionUpdate } from './schema.js';
import { revisionRepo } from './repo.js';
import { revisionView } from './view.js';

export class RevisionService {
  constructor(private readonly db: Db) {}

  async list(caller: Caller, partId: string, page: Page) {
    const part = await findOwned(this.db, caller, 'part', partId);
    const { rows, count, nextCursor } = await revisionRepo.list(this.db, caller.orgId, part.id, page);
    return { count, data: rows.map(revisionView), next_cursor: nextCursor };
  }

  /**
   * The part and the named parent are share-locked while the revision is added, so neither can be
   * deleted in between: a concurrent delete either waits for this revision (and then sees it) or
   * has already removed them (and this answers 404 or 422).
   */
  async create(caller: Caller, partId: string, input: RevisionCreate) {
    const code = cleanLabel(input.revision_code, 'body.revision_code');
    const changeRequest = input.change_request_id == null ? null : cleanLabel(input.change_request_id, 'body.change_request_id');
    try {
      const row = await this.db.transaction().execute(async (tx) => {
        const part = isUuid(partId) ? await partRepo.findForKeyShare(tx, caller.orgId, partId) : undefined;
        if (!part) throw notFound('part');
        const parent = input.parent_revision_id ?? null;
        if (parent && !(await revisionRepo.findForKeyShare(tx, caller.orgId, part.id, parent))) {
          throw validationError([{ path: 'body.parent_revision_id', message: 'must be a revision of the same part' }]);
        }
        return revisionRepo.insert(tx, {
          id: newId(),
          org_id: caller.orgId,
          part_id: part.id,
          revision_code: code,
          parent_revision_id: parent,
          change_request_id: changeRequest,
          attributes: input.attributes ?? {},
        });
      });
      return revisionView(row);
    } catch (error) {
      if (isUniqueViolation(error, 'part_revisions_part_code_key')) {
        throw conflict(`this part already has a revision ${code}`, { revision_code: code });
      }
      throw error;
    }
  }

  async get(caller: Caller, partId: string, revisionId: string) {
    return revisionView(await ownedRevision(this.db, caller, partId, revisionId));
  }

  async update(caller: Caller, partId: string, revisionId: string, input: RevisionUpdate) {
    const revision = await ownedRevision(this.db, caller, partId, revisionId);
    if (!input.attributes) return revisionView(revision);
    const entries = Object.entries(input.attributes);
    const set = Object.fromEntries(entries.filter(([, value]) => value !== null));
    const remove = entries.filter(([, value]) => value === null).map(([key]) => key);
    // Undefined when the revision was deleted since it was read: as unknown as it would be now.
    const merged = await revisionRepo.mergeAttributes(this.db, revision.id, set, remove);
    if (!merged) throw notFound('revision');
    return revisionView(merged);
  }

  /** Its dataset links go with it; a revision other revisions descend from stays (409). */
  async delete(caller: Caller, partId: string, revisionId: string) {
    return this.db.transaction().execute(async (tx) => {
      const revision = await lockedRevision(tx, caller, partId, revisionId);
      const children = await revisionRepo.childIds(tx, revision.id);
      if (children.length) {
        throw conflict(`revision ${revision.revision_code} is the parent of other revisions; delete those first`, {
          child_revision_ids: children.map((c) => c.id),
        });
      }
      await revisionRepo.delete(tx, revision.id);
      return { message: `revision ${revision.revision_code} deleted with its dataset links; the uploads are kept` };
    });
  }
}
