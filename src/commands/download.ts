import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createProgress } from '../client/progress.js';
import { type ParsedArgs, UsageError } from './args.js';
import { clientFrom } from './upload.js';

/** `stowage download ID [-o FILE]`: streams to a temp file, verifies the sha256, then renames into place. */
export async function runDownload(args: ParsedArgs): Promise<void> {
  const [id] = args.positional;
  if (!id) throw new UsageError('usage: stowage download ID [-o FILE] [--url URL] [--key KEY]');
  const client = clientFrom(args);
  const upload = await client.call('GET', `/api/v1/uploads/${id}`);
  const { url } = await client.call('GET', `/api/v1/uploads/${id}/download-url`);
  const target = path.resolve(args.option('o') ?? args.option('output') ?? upload.name);
  const temp = `${target}.${randomUUID().slice(0, 8)}.part`;
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`download answered ${response.status}`);
  const progress = createProgress();
  const bar = progress.bar(upload.name, upload.size_bytes ?? 0);
  const hash = createHash('sha256');
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bar.add(chunk.length);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as never), meter, createWriteStream(temp));
    bar.done();
    const sha256 = hash.digest('hex');
    if (sha256 !== upload.sha256) throw new Error(`downloaded bytes hash to ${sha256}, the upload is ${upload.sha256}: file not kept`);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    progress.stop();
  }
  process.stdout.write(`${target}\n`);
}
