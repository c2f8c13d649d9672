import type { Principal } from '../../access/caller.js';
import type { Db } from '../../db/database.js';
import type { ApiKeyRow } from '../../db/schema.js';
import { AppError, notFound, validationError } from '../../errors.js';
import { isUuid, newId } from '../../ids.js';
import { generateKey, hashKey, prefixOf, sameHash } from './key-secret.js';
import { keysRepo } from './repo.js';
import { isScope, type Scope } from '../../access/scopes.js';

export type { Principal } from '../../access/caller.js';

export interface KeyView {
  id: string;
  org_id: string;
  prefix: string;
  scopes: string[];
  label: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreatedKey extends KeyView {
  /** The secret itself: shown once, never stored. */
  key: string;
}

export function keyView(row: ApiKeyRow): KeyView {
  return {
    id: row.id,
    org_id: row.org_id,
    prefix: row.prefix,
    scopes: row.scopes,
    label: row.label,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

/**
 * How long a verified key is trusted without asking the database again. Revocation through this
 * process takes effect at once; through another process (the CLI, another server) within this time.
 */
export const AUTH_CACHE_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;

interface CachedPrincipal {
  principal: Principal;
  hash: Buffer;
  until: number;
}

export class KeysService {
  private readonly cache = new Map<string, CachedPrincipal>();
  /** Prefixes revoked here lately: a lookup that raced the revocation must not cache the key again. */
  private readonly revokedLately = new Map<string, number>();

  constructor(private readonly db: Db) {}

  /** Resolves a presented key to its org and scopes, or null: unknown, malformed and revoked look the same. */
  async authenticate(presented: string): Promise<Principal | null> {
    const prefix = prefixOf(presented);
    if (!prefix) return null;
    const hash = hashKey(presented);
    const cached = this.cache.get(prefix);
    if (cached && cached.until > Date.now() && sameHash(cached.hash, hash)) return cached.principal;

    const row = await keysRepo.findByPrefix(this.db, prefix);
    if (!row || !sameHash(row.secret_hash, hash) || row.revoked_at) {
      this.cache.delete(prefix);
      return null;
    }
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      keysRepo.touch(this.db, row.id).catch(() => {});
    }
    const principal = { keyId: row.id, keyLabel: row.label, orgId: row.org_id, scopes: row.scopes };
    if ((this.revokedLately.get(prefix) ?? 0) < Date.now()) {
      if (this.cache.size >= AUTH_CACHE_MAX) this.cache.clear();
      this.cache.set(prefix, { principal, hash, until: Date.now() + AUTH_CACHE_MS });
    }
    return principal;
  }

  async create(orgId: string, scopes: string[], label: string | null): Promise<CreatedKey> {
    const unknown = scopes.filter((s) => !isScope(s));
    if (unknown.length || scopes.length === 0) {
      throw validationError([
        { path: 'body.scopes', message: unknown.length ? `unknown scopes: ${unknown.join(', ')}` : 'at least one scope is required' },
      ]);
    }
    const generated = generateKey();
    const row = await keysRepo.insert(this.db, {
      id: newId(),
      org_id: orgId,
      prefix: generated.prefix,
      secret_hash: generated.hash,
      scopes: [...new Set(scopes as Scope[])],
      label,
    });
    return { ...keyView(row), key: generated.key };
  }

  /** Creates the org when it is new: used by the CLI, which names orgs rather than ids. */
  async createForOrgName(orgName: string, scopes: string[], label: string | null): Promise<CreatedKey & { org_name: string }> {
    const org = await keysRepo.ensureOrg(this.db, newId(), orgName);
    return { ...(await this.create(org.id, scopes, label)), org_name: org.name };
  }

  async list(orgId: string | null) {
    return (await keysRepo.list(this.db, orgId)).map((row) => ({ ...keyView(row), org_name: row.org_name }));
  }

  /** `orgId` null: any org (the CLI, run by whoever holds the data folder). */
  async revoke(id: string, orgId: string | null): Promise<KeyView> {
    if (!isUuid(id)) throw notFound('API key');
    const row = await keysRepo.findInOrg(this.db, id, orgId);
    if (!row) throw notFound('API key');
    this.revokedLately.set(row.prefix, Date.now() + AUTH_CACHE_MS);
    const revoked = await keysRepo.revoke(this.db, id);
    this.cache.delete(row.prefix);
    for (const [prefix, until] of this.revokedLately) if (until < Date.now()) this.revokedLately.delete(prefix);
    return keyView(revoked);
  }

  async orgIdByName(name: string): Promise<string> {
    const org = await keysRepo.findOrgByName(this.db, name);
    if (!org) throw new AppError(404, 'not_found', `organisation "${name}" not found`);
    return org.id;
  }
}
