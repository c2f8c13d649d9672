import type { Readable } from 'node:stream';
import type { Caller, Principal } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { BlobError, type ByteRange } from '../../blobs/blob-store.js';
import type { FileVersionRow, UploadRow } from '../../db/schema.js';
import { conflict, notFound, payloadTooLarge, validationError } from '../../errors.js';
import { thumbnailOf } from '../readings/thumbnail.js';
import type { ModuleDeps } from '../module.js';
import type { StreamedUploads } from '../uploads/streamed.js';
import type { PendingContent } from './pending.js';
import { contentProperties } from './properties.js';
import { filesRepo } from './repo.js';
import { appendVersion, checkKey, editorOf, inTrash, movesIn, tipOf } from './versions.js';

/** A file's bytes: in (the content a create or reupload declared) and out (any version's, or a range). */
export class FileContent {
  constructor(
    private readonly deps: ModuleDeps,
    private readonly streamed: StreamedUploads,
  ) {}

  /**
   * The bytes a create without content or a reupload declared: exactly `size` of them, else 422 and
   * nothing kept. They become a confirmed upload and the next version in one transaction.
   */
  async putContent(caller: Principal, id: string, body: { stream: Readable; contentType: string | null }) {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    const pending = file.pending_content as PendingContent | null;
    const refuse = (error: Error) => {
      body.stream.resume();
      return error;
    };
    if (file.deleted_at) throw refuse(inTrash());
    if (!pending)
      throw refuse(conflict('this file awaits no content: POST …/reupload first to declare the next one', { status: file.status }));
    if (pending.expect_tip !== file.cid) {
      throw refuse(
        conflict('the file has changed since this content was declared: reupload again on the new tip', {
          expected: pending.expect_tip,
          actual: file.cid,
        }),
      );
    }
    const limit = this.deps.config.limits.simpleUploadBytes;
    if (pending.size > limit) {
      throw refuse(
        payloadTooLarge(
          `${pending.size} bytes is over the ${limit}-byte limit of a streamed content; upload it with presign or multipart and give its data_source_id to PUT or reupload`,
          { limit },
        ),
      );
    }
    try {
      const { result } = await this.streamed.store(
        caller,
        { name: String(pending.properties.filename), contentType: pending.content_type, stream: body.stream, size: pending.size },
        async (t, upload) => {
          const locked = await findOwned(t.db, caller, 'file', id, { lock: true });
          if (locked.cid !== pending.expect_tip || JSON.stringify(locked.pending_content) !== JSON.stringify(file.pending_content)) {
            throw conflict('the file changed while its bytes were arriving', { expected: pending.expect_tip, actual: locked.cid });
          }
          checkKey(pending.properties.key, upload, 'body');
          // Made for this file: it goes with the file when the file is purged.
          await t.db.updateTable('uploads').set({ file_id: locked.id }).where('id', '=', upload.id).execute();
          return appendVersion({ db: t.db, move: movesIn(t.db) }, editorOf(caller), locked, await tipOf(t.db, locked), {
            properties: contentProperties(pending.properties, upload),
            relationships: pending.relationships,
            note: pending.note,
            folder_id: locked.folder_id,
            upload_id: upload.id,
          });
        },
      );
      return result;
    } catch (error) {
      // More bytes than declared stop storage at the declared size ('too_large'); fewer end short of it.
      if (error instanceof BlobError && (error.kind === 'size_mismatch' || error.kind === 'too_large')) {
        throw validationError([{ path: 'body', message: `${error.message}; this file awaits exactly ${pending.size} bytes` }]);
      }
      throw error;
    }
  }

  /** The version `ver` (the tip when omitted) with the upload holding its bytes; 404 for a trashed file. */
  async content(caller: Caller, id: string, ver?: number): Promise<{ version: FileVersionRow; upload: UploadRow }> {
    const file = await findOwned(this.deps.db, caller, 'file', id);
    if (file.deleted_at) throw notFound('file');
    const wanted = ver ?? file.ver;
    const version = wanted > 0 && wanted <= file.ver ? await filesRepo.version(this.deps.db, file.id, wanted) : undefined;
    if (!version) throw notFound(ver === undefined ? 'content of this file (its bytes have not arrived)' : `version ${ver} of this file`);
    const upload = await this.deps.db.selectFrom('uploads').selectAll().where('id', '=', version.upload_id).executeTakeFirstOrThrow();
    if (upload.blob_purged_at) throw notFound('content of this version (its bytes were purged)');
    return { version, upload };
  }

  async downloadUrl(caller: Caller, id: string, ver: number | undefined, baseUrl: string) {
    const { version, upload } = await this.content(caller, id, ver);
    const expiresIn = this.deps.config.limits.downloadTtlSeconds;
    const url = await this.deps.blobs.presignGet(
      upload.blob_key,
      { filename: String(version.properties.filename ?? upload.name), contentType: contentTypeOf(version) },
      { expiresInSeconds: expiresIn, baseUrl },
    );
    return { url, expires_in: expiresIn };
  }

  /** The thumbnail the reading of version `ver`'s bytes (the tip's when omitted) made; 404 where there is none. */
  async thumbnail(caller: Caller, id: string, ver?: number) {
    const { upload } = await this.content(caller, id, ver);
    return thumbnailOf(this.deps, upload);
  }

  /** The stored bytes of a version's upload, or the range of them. */
  read(upload: UploadRow, range?: ByteRange): Promise<Readable> {
    return this.deps.blobs.read(upload.blob_key, range);
  }
}

function contentTypeOf(version: FileVersionRow): string | null {
  return typeof version.properties.content_type === 'string' ? version.properties.content_type : null;
}
