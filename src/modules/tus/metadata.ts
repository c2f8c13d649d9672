import { type FieldProblem, badRequest, validationError } from '../../errors.js';
import { isUuid } from '../../ids.js';
import { FILE_NAME_RULE, isFileName } from '../names.js';

/** The most Upload-Metadata a creation may carry: a name, a type, a folder and a sha256 fit many times over. */
export const MAX_METADATA_BYTES = 4096;

const MAX_NAME = 1024;
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
const AT = 'headers.upload-metadata';

/** What a tus creation declares about its file, in the terms of the other upload flows. */
export interface TusDeclared {
  name: string;
  content_type: string | null;
  folder_id: string | null;
  sha256: string | null;
}

/** 400 for an Upload-Metadata header past MAX_METADATA_BYTES, before anything parses it. */
export function checkMetadataSize(header: string | undefined): void {
  if (header && Buffer.byteLength(header) > MAX_METADATA_BYTES) {
    throw badRequest(`Upload-Metadata is ${Buffer.byteLength(header)} bytes; at most ${MAX_METADATA_BYTES} are taken`, {
      limit: MAX_METADATA_BYTES,
    });
  }
}

/**
 * The decoded Upload-Metadata pairs as an upload declaration: `filename` (or `name`, as Uppy also
 * sends) is required; `filetype` (or `type`), `folder_id` and `sha256` are optional, an empty value
 * counting as none (browsers give an unknown file the type ''). Other keys (Uppy's `relativePath`…)
 * are ignored. Every problem is a 422 naming its key.
 */
export function declaredBy(metadata: Record<string, string | null> | undefined): TusDeclared {
  const value = (...keys: string[]) => {
    for (const key of keys) {
      const found = metadata?.[key];
      if (found != null && found !== '') return { key, value: found };
    }
    return null;
  };
  const problems: FieldProblem[] = [];
  const name = value('filename', 'name');
  if (!name) problems.push({ path: `${AT}.filename`, message: 'is required: the name of the file (or `name`)' });
  else if (name.value.length > MAX_NAME || !isFileName(name.value)) {
    problems.push({ path: `${AT}.${name.key}`, message: `${FILE_NAME_RULE}, at most ${MAX_NAME} characters` });
  }
  const type = value('filetype', 'type');
  if (type && (type.value.length > 255 || !CONTENT_TYPE.test(type.value))) {
    problems.push({ path: `${AT}.${type.key}`, message: 'must be a MIME type such as application/pdf' });
  }
  const folder = value('folder_id');
  if (folder && !isUuid(folder.value)) problems.push({ path: `${AT}.folder_id`, message: 'must be the id (a UUID) of a folder of yours' });
  const sha256 = value('sha256');
  if (sha256 && !SHA256.test(sha256.value)) problems.push({ path: `${AT}.sha256`, message: 'must be 64 hexadecimal characters' });
  if (problems.length) throw validationError(problems, 'the Upload-Metadata of this upload is not valid');
  return {
    name: name!.value,
    content_type: type?.value ?? null,
    folder_id: folder?.value ?? null,
    sha256: sha256?.value.toLowerCase() ?? null,
  };
}
