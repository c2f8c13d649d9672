import { validationError } from '../../errors.js';
import { isFileName } from '../names.js';
import { MAX_NAME_LENGTH } from './schema.js';

/**
 * A folder name as a path can hold it: the file-name rule (no slash, backslash or control
 * character, so `/a/b` always splits back into its names), and not `.` or `..`, which a path reads
 * as "here" and "up".
 */
export function cleanFolderName(value: string, path: string): string {
  const trimmed = value.trim();
  if (!isFileName(trimmed) || trimmed === '.' || trimmed === '..' || [...trimmed].length > MAX_NAME_LENGTH) {
    throw validationError([
      { path, message: `must be a folder name of 1–${MAX_NAME_LENGTH} characters without slashes or control characters, not . or ..` },
    ]);
  }
  return trimmed;
}
