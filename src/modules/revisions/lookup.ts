import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Executor } from '../../db/database.js';
import { notFound } from '../../errors.js';
import { isUuid } from '../../ids.js';
import { revisionRepo } from './repo.js';

/**
 * The revision under the caller's part; with `lock`, row-locked for the rest of the transaction
 * (see revisionRepo.find). A 404 names what is missing: the part, or the revision under it.
 */
export async function ownedRevision(db: Executor, caller: Caller, partId: string, revisionId: string, options: { lock?: boolean } = {}) {
  const row = isUuid(partId) && isUuid(revisionId) ? await revisionRepo.find(db, caller.orgId, partId, revisionId, options) : undefined;
  if (row) return row;
  await findOwned(db, caller, 'part', partId);
  throw notFound('revision');
}

export const lockedRevision = (db: Executor, caller: Caller, partId: string, revisionId: string) =>
  ownedRevision(db, caller, partId, revisionId, { lock: true });
