import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export interface FlushingWriterOptions {
  /** File offset of the first byte written. */
  start?: number;
  /** Start a background fdatasync after this many bytes since the last one. */
  flushEveryBytes: number;
  highWaterMark?: number;
  /** Told the file offset reached after each write: the bytes before it are in the file. */
  onWritten?: (position: number) => void;
}

/**
 * Writes a stream into an open file and flushes it to disk in the background as it goes.
 *
 * Why: with plenty of RAM the kernel holds gigabytes dirty until the final fsync, so a durable write
 * of a large file would otherwise pay its whole disk time after the last byte arrived. Flushing every
 * few dozen MiB overlaps that disk time with receiving, leaving the final fsync short. The handle is
 * the caller's to close; an error of a background flush fails the stream.
 */
export class FlushingWriter extends Writable {
  private position: number;
  private sinceFlush = 0;
  private flushing: Promise<void> | null = null;
  private flushError: Error | null = null;

  constructor(
    private readonly handle: FileHandle,
    private readonly options: FlushingWriterOptions,
  ) {
    super({ highWaterMark: options.highWaterMark });
    this.position = options.start ?? 0;
  }

  override _writev(chunks: { chunk: Buffer }[], done: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    Promise.resolve(this.flushing).then(() => done(this.flushError), done);
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    if (this.flushError) throw this.flushError;
    let pending = buffers;
    let total = pending.reduce((sum, b) => sum + b.length, 0);
    while (total > 0) {
      const { bytesWritten } = await this.handle.writev(pending, this.position);
      this.position += bytesWritten;
      this.sinceFlush += bytesWritten;
      total -= bytesWritten;
      if (total > 0) pending = [Buffer.concat(pending).subarray(bytesWritten)];
    }
    this.options.onWritten?.(this.position);
    if (this.sinceFlush >= this.options.flushEveryBytes && !this.flushing) {
      this.sinceFlush = 0;
      this.flushing = this.handle.datasync().then(
        () => {
          this.flushing = null;
        },
        (error: Error) => {
          this.flushError = error;
          this.flushing = null;
        },
      );
    }
  }
}
