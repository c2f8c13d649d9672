import { validationError } from '../errors.js';

/** A code or number people type: surrounding blanks dropped, nothing invisible inside. */
export function cleanLabel(value: string, path: string): string {
  const trimmed = value.trim();
  if (!trimmed || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw validationError([{ path, message: 'must not be blank or contain control characters' }]);
  }
  return trimmed;
}

/** A file name as uploads take one: not blank, no slashes, no control characters. */
export const isFileName = (value: string): boolean => value.trim() !== '' && !/[\u0000-\u001f\u007f/\\]/.test(value);

export const FILE_NAME_RULE = 'must be a file name without slashes or control characters';

/** The file name with surrounding blanks dropped, or a 422 naming `path`. */
export function cleanFilename(value: string, path: string): string {
  const trimmed = value.trim();
  if (!isFileName(trimmed)) throw validationError([{ path, message: FILE_NAME_RULE }]);
  return trimmed;
}
