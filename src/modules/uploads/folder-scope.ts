import type { Principal } from '../../access/caller.js';
import { grants } from '../../access/scopes.js';
import { insufficientScope } from '../../errors.js';

/**
 * An upload that names a folder also makes a file there, which a key may do only with `files:write`:
 * `uploads:write` alone must not be a way around it.
 */
export function requireFilesWriteFor(principal: Principal, requests: readonly { folder_id?: string | null }[]): Principal {
  if (requests.some((r) => r.folder_id) && !grants(principal.scopes, 'files:write')) throw insufficientScope('files:write');
  return principal;
}
