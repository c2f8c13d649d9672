import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import type { Db, Executor } from '../../db/database.js';
import type { Page } from '../../db/keyset.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/pg-errors.js';
import { conflict, notFound, validationError } from '../../errors.js';
import { newId } from '../../ids.js';
import { cleanFolderName } from './name.js';
import { COUNT_CAP, folderRepo } from './repo.js';
import { type FolderCreate, type FolderUpdate, MAX_DEPTH } from './schema.js';
import { folderView } from './view.js';

const SIBLING_NAME_KEY = 'folders_sibling_name_key';
/** A sibling that held the name may be renamed or deleted before we name it; then the write is tried again. */
const ATTEMPTS = 3;

export class FolderService {
  constructor(private readonly db: Db) {}

  async list(caller: Caller, options: { parentId?: string } & Page) {
    let parentPath = '';
    if (options.parentId) {
      const parent = await findOwned(this.db, caller, 'folder', options.parentId);
      parentPath = await this.pathOf(this.db, caller, parent.id);
    }
    const { rows, count, nextCursor } = await folderRepo.listChildren(this.db, caller.orgId, options.parentId ?? null, options);
    return { count, data: rows.map((row) => folderView(row, `${parentPath}/${row.name}`)), next_cursor: nextCursor };
  }

  async get(caller: Caller, id: string) {
    const folder = await findOwned(this.db, caller, 'folder', id);
    return folderView(folder, await this.pathOf(this.db, caller, folder.id));
  }

  async create(caller: Caller, input: FolderCreate) {
    const name = cleanFolderName(input.name, 'body.name');
    const parentId = input.parent_id ?? null;
    return this.writing(caller, { parentId, name }, () =>
      this.db.transaction().execute(async (tx) => {
        // Shared: creates run side by side, but no move changes the depth of the parent meanwhile.
        await folderRepo.lockTree(tx, caller.orgId, 'shared');
        let parentPath = '';
        if (parentId !== null) {
          const parent = await findOwned(tx, caller, 'folder', parentId);
          const above = await this.ancestryOf(tx, caller, parent.id);
          if (above.depth + 1 > MAX_DEPTH) throw tooDeep();
          parentPath = above.path;
        }
        const row = await folderRepo.insert(tx, { id: newId(), org_id: caller.orgId, parent_id: parentId, name });
        return folderView(row, `${parentPath}/${row.name}`);
      }),
    );
  }

  /** Renames and moves. A move holds the org's tree exclusively, so two moves cannot each pass the cycle check for the other. */
  async update(caller: Caller, id: string, input: FolderUpdate) {
    const name = input.name === undefined ? undefined : cleanFolderName(input.name, 'body.name');
    const moving = input.parent_id !== undefined;
    // Where the folder would end up, for naming the sibling a 409 collides with.
    const target = { parentId: null as string | null, name: '' };
    return this.writing(caller, target, () =>
      this.db.transaction().execute(async (tx) => {
        if (moving) await folderRepo.lockTree(tx, caller.orgId, 'exclusive');
        const folder = await findOwned(tx, caller, 'folder', id, { lock: true });
        const parentId = moving ? (input.parent_id ?? null) : folder.parent_id;
        Object.assign(target, { parentId, name: name ?? folder.name });
        const changes: { name?: string; parent_id?: string | null } = {};
        if (name !== undefined && name !== folder.name) changes.name = name;
        if (parentId !== folder.parent_id) {
          if (parentId !== null) await this.checkMove(tx, caller, folder.id, parentId);
          changes.parent_id = parentId;
        }
        const row = Object.keys(changes).length ? await folderRepo.update(tx, caller.orgId, folder.id, changes) : folder;
        return folderView(row, await this.pathOf(tx, caller, row.id));
      }),
    );
  }

  /** Only an empty folder goes: no folder in it and no file, trashed ones included (they still point here until purged). */
  async delete(caller: Caller, id: string) {
    try {
      return await this.db.transaction().execute(async (tx) => {
        // Locked: a folder or file being put in it waits (its foreign key needs this row) and then fails.
        const folder = await findOwned(tx, caller, 'folder', id, { lock: true });
        const path = await this.pathOf(tx, caller, folder.id);
        const held = await folderRepo.contents(tx, caller.orgId, folder.id);
        if (held.folders || held.files || held.trashed_files) throw notEmpty(path, held);
        await folderRepo.delete(tx, caller.orgId, folder.id);
        return { message: `folder ${path} deleted` };
      });
    } catch (error) {
      // A file of another writer pointing here that the count could not see (the foreign key caught it).
      if (isForeignKeyViolation(error)) throw conflict('the folder is not empty: something was put in it meanwhile; list it and try again');
      throw error;
    }
  }

  /** Moving `id` under `parentId` must not make a cycle nor nest anything deeper than MAX_DEPTH. */
  private async checkMove(tx: Executor, caller: Caller, id: string, parentId: string) {
    if (parentId === id) throw validationError([{ path: 'body.parent_id', message: 'a folder cannot be moved into itself' }]);
    const parent = await findOwned(tx, caller, 'folder', parentId);
    const above = await this.ancestryOf(tx, caller, parent.id);
    if (above.ids.includes(id)) {
      throw validationError([{ path: 'body.parent_id', message: 'a folder cannot be moved into a folder inside it' }]);
    }
    // The moved folder lands at depth above.depth + 1, and its deepest descendant height - 1 levels below that.
    const height = await folderRepo.height(tx, caller.orgId, id, MAX_DEPTH);
    if (above.depth + height > MAX_DEPTH) throw tooDeep();
  }

  private async ancestryOf(db: Executor, caller: Caller, id: string) {
    const ancestry = await folderRepo.ancestry(db, caller.orgId, id);
    if (!ancestry) throw notFound('folder');
    return ancestry;
  }

  private async pathOf(db: Executor, caller: Caller, id: string) {
    return (await this.ancestryOf(db, caller, id)).path;
  }

  /**
   * Runs a write that may collide with a sibling's name. The unique index decides (so of concurrent
   * writers of one name exactly one wins); the 409 is told after the rollback, naming the folder that holds the name.
   */
  private async writing<T>(caller: Caller, target: { parentId: string | null; name: string }, write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (isForeignKeyViolation(error)) throw notFound('folder');
        if (!isUniqueViolation(error, SIBLING_NAME_KEY)) throw error;
        const holder = await folderRepo.findSibling(this.db, caller.orgId, target.parentId, target.name);
        if (holder || attempt === ATTEMPTS) throw nameTaken(target, holder?.id ?? null);
      }
    }
  }
}

function nameTaken(target: { parentId: string | null; name: string }, holderId: string | null) {
  const where = target.parentId === null ? 'at the root' : 'in that folder';
  return conflict(`a folder named ${target.name} already exists ${where}`, {
    existing_folder_id: holderId,
    name: target.name,
    parent_id: target.parentId,
  });
}

function tooDeep() {
  return validationError([{ path: 'body.parent_id', message: `folders nest at most ${MAX_DEPTH} deep` }]);
}

function notEmpty(path: string, held: { folders: number; files: number; trashed_files: number }) {
  const count = (n: number, one: string, many: string) => `${n >= COUNT_CAP ? `${COUNT_CAP} or more` : n} ${n === 1 ? one : many}`;
  const parts = [
    held.folders && count(held.folders, 'folder', 'folders'),
    held.files && count(held.files, 'file', 'files'),
    held.trashed_files && `${count(held.trashed_files, 'file', 'files')} in the trash`,
  ].filter(Boolean);
  const trash = held.trashed_files ? ' (files in the trash still belong to it until they are purged or recovered and moved)' : '';
  return conflict(`folder ${path} is not empty: it holds ${parts.join(', ')}${trash}`, held);
}
