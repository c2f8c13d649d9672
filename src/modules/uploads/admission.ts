import type { Executor } from '../../db/database.js';
import { AppError, payloadTooLarge } from '../../errors.js';
import { type ContentPolicy, PolicyLookup, type TypeRefusal, refusalOf } from '../policy/content-policy.js';
import type { ModuleDeps } from '../module.js';
import { type UploadUsage, uploadUsage } from './usage.js';

/** What a flow knows of an upload before its bytes; either may be unknown. */
export interface Declared {
  content_type?: string | null;
  size_bytes?: number | null;
}

/**
 * The org's content policy applied before a byte is sent: the declared type (415), the declared size
 * against the largest upload (413), and the bytes the upload adds against the quota (413). Every flow
 * that makes an upload goes through it; the confirm job judges the stored bytes by the same policy.
 */
export class UploadAdmission {
  private readonly policies: PolicyLookup;

  constructor(private readonly deps: Pick<ModuleDeps, 'db' | 'config'>) {
    this.policies = new PolicyLookup(deps.db, deps.config);
  }

  policyOf(orgId: string): Promise<ContentPolicy> {
    return this.policies.policyOf(orgId);
  }

  /** 415 for a declared type the policy refuses, then 413 for a declared size over its largest upload; `pathOf(i)` names file i. */
  checkDeclared(policy: ContentPolicy, files: readonly Declared[], pathOf: (i: number) => string): void {
    files.forEach((file, i) => {
      const refusal = file.content_type ? refusalOf(policy, file.content_type) : null;
      if (refusal) throw typeRefused(refusal, `${pathOf(i)}.content_type`);
    });
    const max = policy.maxUploadBytes;
    files.forEach((file, i) => {
      if (max !== null && file.size_bytes != null && file.size_bytes > max) {
        throw payloadTooLarge(`${file.size_bytes} bytes is over this organisation's largest upload (max_upload_bytes), ${max} bytes`, {
          path: `${pathOf(i)}.size_bytes`,
          size_bytes: file.size_bytes,
          limit: max,
        });
      }
    });
  }

  /**
   * A look at the quota without taking turns, to refuse early what cannot fit now (413) before storage
   * is asked for anything; `reserve` decides. The room left after `bytes`; null without a quota.
   */
  async room(orgId: string, policy: ContentPolicy, bytes: number, options: { undeclared?: boolean } = {}): Promise<number | null> {
    if (policy.quotaBytes === null) return null;
    return roomAfter(policy.quotaBytes, await uploadUsage.read(this.deps.db, orgId), bytes, options.undeclared);
  }

  /**
   * In the transaction of `db` that writes the new uploads, holding the org's quota turn until it ends:
   * 413 unless `bytes` more fit under the quota (an upload of undeclared size needs some room left).
   * The room left after them; null without a quota (and then no turn is taken).
   */
  async reserve(
    db: Executor,
    orgId: string,
    policy: ContentPolicy,
    bytes: number,
    options: { undeclared?: boolean } = {},
  ): Promise<number | null> {
    if (policy.quotaBytes === null) return null;
    await uploadUsage.lock(db, orgId);
    return roomAfter(policy.quotaBytes, await uploadUsage.read(db, orgId), bytes, options.undeclared);
  }
}

/**
 * At confirm, holding the org's quota turn until the transaction of `db` ends: why `size` stored bytes
 * of pending upload `row` do not fit under the quota, or null when they do. Every other pending
 * upload keeps the room its declared size was admitted with; this one's own declaration is replaced
 * by what was stored. Fits always without a quota.
 */
export async function quotaShortfall(
  db: Executor,
  row: { org_id: string; declared_size: string | null },
  policy: ContentPolicy,
  size: number,
): Promise<string | null> {
  if (policy.quotaBytes === null) return null;
  await uploadUsage.lock(db, row.org_id);
  const usage = await uploadUsage.read(db, row.org_id);
  const others = { ...usage, pendingBytes: usage.pendingBytes - Number(row.declared_size ?? 0) };
  if (quotaRoom(policy.quotaBytes, others, size) >= 0) return null;
  return (
    `stored ${size} bytes, past this organisation's storage quota: ${others.confirmedBytes} bytes used and ` +
    `${others.pendingBytes} pending of ${policy.quotaBytes}`
  );
}

/** The most bytes an upload of undeclared size may carry: its flow's own limit, the policy's largest upload, the room left. */
export function undeclaredLimit(flowLimit: number, policy: Pick<ContentPolicy, 'maxUploadBytes'>, room: number | null): number {
  return Math.min(flowLimit, policy.maxUploadBytes ?? Infinity, room ?? Infinity);
}

/** The bytes still free under `quota` once `bytes` more are in; negative when they do not fit. */
export function quotaRoom(quota: number, usage: UploadUsage, bytes: number): number {
  return quota - usage.confirmedBytes - usage.pendingBytes - bytes;
}

/** Says, in words and in details, where the org stands against its quota. */
export function quotaStanding(quota: number, usage: UploadUsage, bytes: number) {
  return {
    quota_bytes: quota,
    used_bytes: usage.confirmedBytes,
    pending_bytes: usage.pendingBytes,
    requested_bytes: bytes,
    available_bytes: Math.max(0, quotaRoom(quota, usage, 0)),
  };
}

function roomAfter(quota: number, usage: UploadUsage, bytes: number, undeclared = false): number {
  const room = quotaRoom(quota, usage, bytes);
  if (room > 0 || (room === 0 && !undeclared)) return room;
  const standing = `${usage.confirmedBytes} bytes used and ${usage.pendingBytes} pending of ${quota}`;
  throw payloadTooLarge(
    bytes > 0
      ? `${bytes} more bytes would take this organisation past its storage quota: ${standing}`
      : `no room is left under this organisation's storage quota: ${standing}`,
    quotaStanding(quota, usage, bytes),
  );
}

export function typeRefused(refusal: TypeRefusal, path: string): AppError {
  return new AppError(415, 'unsupported_media_type', refusal.message, {
    path,
    content_type: refusal.contentType,
    refused_by: refusal.list,
  });
}
