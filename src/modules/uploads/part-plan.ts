import { type FieldProblem, validationError } from '../../errors.js';
import { STORAGE_LIMITS } from '../../storage-limits.js';

const { minPartBytes: MIN_PART_BYTES, maxPartBytes: MAX_PART_BYTES, maxPartNumber: MAX_PART_NUMBER } = STORAGE_LIMITS;
const MIB = 1024 * 1024;
const DEFAULT_PART_BYTES = 16 * MIB;

/** The smallest part storage takes for `size` bytes: 5 MiB, or the whole MiB that keeps it within storage's part count. */
export function smallestPartSize(size: number): number {
  return Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PART_NUMBER / MIB) * MIB);
}

/**
 * How a multipart upload of `size_bytes` is cut: the client's `part_size` when storage can take it,
 * else 16 MiB, or the smallest whole MiB that keeps the file within storage's part count. Throws a
 * 422 naming every field that cannot work.
 */
export function planParts(
  input: { name: string; size_bytes: number; part_size?: number | null },
  maxBytes: number,
): { partSize: number; partCount: number } {
  const problems: FieldProblem[] = [];
  if (input.size_bytes > maxBytes) problems.push({ path: 'body.size_bytes', message: `at most ${maxBytes} bytes` });
  const smallest = smallestPartSize(input.size_bytes);
  const partSize = input.part_size ?? Math.max(DEFAULT_PART_BYTES, smallest);
  if (partSize < MIN_PART_BYTES || partSize > MAX_PART_BYTES) {
    problems.push({ path: 'body.part_size', message: `parts are ${MIN_PART_BYTES} to ${MAX_PART_BYTES} bytes` });
  } else if (Math.ceil(input.size_bytes / partSize) > MAX_PART_NUMBER) {
    problems.push({
      path: 'body.part_size',
      message: `${input.size_bytes} bytes in parts of ${partSize} is over ${MAX_PART_NUMBER} parts; use at least ${smallest}`,
    });
  }
  if (input.name.includes('/') || input.name.includes('\\'))
    problems.push({ path: 'body.name', message: 'must be a file name without slashes' });
  if (problems.length) throw validationError(problems);
  return { partSize, partCount: Math.max(1, Math.ceil(input.size_bytes / partSize)) };
}
