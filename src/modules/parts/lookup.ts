import type { Executor } from '../../db/database.js';
import { type AppError, notFound, validationError } from '../../errors.js';
import { isUuid } from '../../ids.js';
import type { Caller } from '../../access/caller.js';
import { partRepo } from './repo.js';
import { revisionRepo } from '../revisions/repo.js';

/**
 * Lookups every parts route starts with. A malformed id, an unknown id and another org's id all
 * answer the same 404.
 */
export async function ownedPart(db: Executor, caller: Caller, partId: string) {
  const row = isUuid(partId) ? await partRepo.find(db, caller.orgId, partId) : undefined;
  if (!row) throw notFound('part');
  return row;
}

/** The revision; with `lock`, row-locked for the rest of the transaction (see revisionRepo.find). */
export async function ownedRevision(db: Executor, caller: Caller, partId: string, revisionId: string, options: { lock?: boolean } = {}) {
  const row = isUuid(partId) && isUuid(revisionId) ? await revisionRepo.find(db, caller.orgId, partId, revisionId, options) : undefined;
  if (!row) throw await revisionMissing(db, caller, partId);
  return row;
}

export const lockedRevision = (db: Executor, caller: Caller, partId: string, revisionId: string) =>
  ownedRevision(db, caller, partId, revisionId, { lock: true });

/** Names what is missing: the part, or the revision under a part that exists. */
async function revisionMissing(db: Executor, caller: Caller, partId: string): Promise<AppError> {
  const part = isUuid(partId) ? await partRepo.find(db, caller.orgId, partId) : undefined;
  return notFound(part ? 'revision' : 'part');
}

/** A code or number people type: surrounding blanks dropped, nothing invisible inside. */
export function cleanLabel(value: string, path: string): string {
  const trimmed = value.trim();
  if (!trimmed || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw validationError([{ path, message: 'must not be blank or contain control characters' }]);
  }
  return trimmed;
}

/** A file name as the uploads module accepts one: no slashes, no control characters. */
export function cleanFilename(value: string, path: string): string {
  const trimmed = value.trim();
  if (!trimmed || /[\u0000-\u001f\u007f/\\]/.test(trimmed)) {
    throw validationError([{ path, message: 'must be a file name without slashes or control characters' }]);
  }
  return trimmed;
}
