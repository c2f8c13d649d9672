import type { Db } from '../../db/database.js';
import type { Page } from '../../db/keyset.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { conflict, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { cleanLabel } from '../names.js';
import { partRepo } from './repo.js';
import type { PartCreate, PartUpdate } from './schema.js';
import { partView } from './view.js';

const DEFAULT_UOM = 'EA';

export class PartService {
  constructor(private readonly db: Db) {}

  async list(caller: Caller, options: { q?: string; classificationId?: string } & Page) {
    const { rows, count, countCapped, nextCursor } = await partRepo.list(this.db, caller.orgId, {
      ...options,
      q: options.q?.trim() || undefined,
    });
    return { count, ...(countCapped && { count_capped: true as const }), data: rows.map(partView), next_cursor: nextCursor };
  }

  async create(caller: Caller, input: PartCreate) {
    const partNumber = cleanLabel(input.part_number, 'body.part_number');
    try {
      const row = await partRepo.insert(this.db, {
        ...columnsOf(input),
        id: newId(),
        org_id: caller.orgId,
        part_number: partNumber,
        base_uom: input.base_uom ?? DEFAULT_UOM,
      });
      return partView(row);
    } catch (error) {
      throw duplicateNumber(error, partNumber);
    }
  }

  async get(caller: Caller, id: string) {
    return partView(await findOwned(this.db, caller, 'part', id));
  }

  async update(caller: Caller, id: string, input: PartUpdate) {
    const part = await findOwned(this.db, caller, 'part', id);
    const changes = columnsOf(input);
    if (!Object.keys(changes).length) return partView(part);
    const row = await partRepo.update(this.db, caller.orgId, part.id, changes);
    if (!row) throw notFound('part');
    return partView(row);
  }

  async delete(caller: Caller, id: string) {
    const part = await findOwned(this.db, caller, 'part', id);
    if (!(await partRepo.delete(this.db, caller.orgId, part.id))) throw notFound('part');
    return { message: `part ${part.part_number} deleted with its revisions and dataset links; the uploads are kept` };
  }
}

/** The body's fields as columns, leaving out what was not sent (PATCH changes only those). */
function columnsOf(input: PartUpdate) {
  const { attributes, ...plain } = input;
  const defined = Object.fromEntries(Object.entries(plain).filter(([, value]) => value !== undefined)) as Omit<PartUpdate, 'attributes'>;
  return attributes === undefined ? defined : { ...defined, attributes: JSON.stringify(attributes) };
}

function duplicateNumber(error: unknown, partNumber: string): unknown {
  if (!isUniqueViolation(error, 'parts_org_part_number_key')) return error;
  return conflict(`a part numbered ${partNumber} already exists`, { part_number: partNumber });
}
