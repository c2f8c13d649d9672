import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { isUuid } from '../../ids.js';

const leaseEnd = (seconds: number) => sql<Date>`now() + make_interval(secs => ${seconds})`;

/** SQL of the tus rows (migration 0022); every write of a PATCH names the writer lease it holds. */
export const tusRepo = {
  async insert(db: Executor, row: { upload_id: string; upload_offset: number; upload_metadata: string | null }): Promise<void> {
    await db.insertInto('tus_uploads').values(row).execute();
  },

  /** The org's tus upload: its upload row with the tus columns beside it; undefined for any other id. */
  find(db: Executor, orgId: string, id: string) {
    if (!isUuid(id)) return Promise.resolve(undefined);
    return db
      .selectFrom('uploads as u')
      .innerJoin('tus_uploads as t', 't.upload_id', 'u.id')
      .selectAll('u')
      .select(['t.upload_offset', 't.upload_metadata', 't.tail_key', 't.writer', 't.writer_until'])
      .where('u.id', '=', id)
      .where('u.org_id', '=', orgId)
      .executeTakeFirst();
  },

  /**
   * Takes the writer lease when the upload is at `offset` and no live writer holds it: the one place
   * where two PATCHes (of any processes) racing for an upload are told apart. The tus row, or
   * undefined when the offset moved or another writer holds the lease.
   */
  claim(db: Executor, id: string, offset: number, writer: string, leaseSeconds: number) {
    return db
      .updateTable('tus_uploads')
      .set({ writer, writer_until: leaseEnd(leaseSeconds) })
      .where('upload_id', '=', id)
      .where('upload_offset', '=', String(offset))
      .where((eb) => eb.or([eb('writer', 'is', null), eb('writer_until', '<', sql<Date>`now()`)]))
      .returningAll()
      .executeTakeFirst();
  },

  /** Records bytes now held in storage, and the tail that holds the last of them; false once the lease is lost. */
  async advance(db: Executor, id: string, writer: string, to: { offset: number; tailKey: string | null }, leaseSeconds: number) {
    const result = await db
      .updateTable('tus_uploads')
      .set({ upload_offset: String(to.offset), tail_key: to.tailKey, writer_until: leaseEnd(leaseSeconds) })
      .where('upload_id', '=', id)
      .where('writer', '=', writer)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  },

  async renew(db: Executor, id: string, writer: string, leaseSeconds: number): Promise<boolean> {
    const result = await db
      .updateTable('tus_uploads')
      .set({ writer_until: leaseEnd(leaseSeconds) })
      .where('upload_id', '=', id)
      .where('writer', '=', writer)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  },

  async release(db: Executor, id: string, writer: string): Promise<void> {
    await db
      .updateTable('tus_uploads')
      .set({ writer: null, writer_until: null })
      .where('upload_id', '=', id)
      .where('writer', '=', writer)
      .execute();
  },

  /** Forgets the tail of an upload that takes no more bytes; answers its key, for the blob to be removed. */
  async dropTail(db: Executor, id: string): Promise<string | null> {
    const before = await db.selectFrom('tus_uploads').select('tail_key').where('upload_id', '=', id).executeTakeFirst();
    if (!before?.tail_key) return null;
    await db
      .updateTable('tus_uploads')
      .set({ tail_key: null })
      .where('upload_id', '=', id)
      .where('tail_key', '=', before.tail_key)
      .execute();
    return before.tail_key;
  },
};

export type TusUpload = NonNullable<Awaited<ReturnType<typeof tusRepo.find>>>;
