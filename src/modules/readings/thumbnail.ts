import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { UploadRow } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { ModuleDeps } from '../module.js';
import { readingsRepo } from './repo.js';

export interface Thumbnail {
  stream: Readable;
  contentType: string;
  size: number;
}

/** The thumbnail the reading of an upload's bytes made; 404 where there is none, or the bytes are in the trash or gone. */
export async function thumbnailOf(deps: Pick<ModuleDeps, 'db' | 'blobs'>, upload: UploadRow): Promise<Thumbnail> {
  if (upload.deleted_at || upload.blob_purged_at) throw notFound('thumbnail');
  const reading = await readingsRepo.findByUpload(deps.db, upload.id);
  if (!reading?.thumbnail_key || reading.status !== 'ready') throw notFound('thumbnail');
  return {
    stream: await deps.blobs.read(reading.thumbnail_key),
    contentType: reading.thumbnail_type ?? 'application/octet-stream',
    size: Number(reading.thumbnail_size),
  };
}

/** A thumbnail as a route answers it: its type and length, kept briefly by the client's cache only. */
export function sendThumbnail(reply: FastifyReply, thumbnail: Thumbnail) {
  return reply
    .header('content-type', thumbnail.contentType)
    .header('content-length', thumbnail.size)
    .header('cache-control', 'private, max-age=300')
    .send(thumbnail.stream);
}
