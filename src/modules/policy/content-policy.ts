import { matchesType, mediaTypeEssence } from '../../content/sniff.js';
import type { Executor } from '../../db/database.js';
import { StatementBatcher } from '../../db/statement-batcher.js';
import type { ContentPolicyRow } from '../../db/schema.js';
import { policyRepo } from './repo.js';

/** What an org's uploads may be: checked by every flow before bytes move, and by the confirm job on the bytes. */
export interface ContentPolicy {
  /** null: any type not refused. */
  allowedContentTypes: readonly string[] | null;
  refusedContentTypes: readonly string[];
  maxUploadBytes: number | null;
  quotaBytes: number | null;
  /** null: the org has no policy of its own, the server's default applies. */
  updatedAt: Date | null;
}

/** What the server's configuration says when an org has set nothing. */
export interface PolicyDefaults {
  refusedContentTypes: readonly string[];
}

export function policyFrom(row: ContentPolicyRow | undefined, defaults: PolicyDefaults): ContentPolicy {
  return {
    allowedContentTypes: row?.allowed_content_types ?? null,
    refusedContentTypes: row?.refused_content_types ?? defaults.refusedContentTypes,
    maxUploadBytes: row?.max_upload_bytes == null ? null : Number(row.max_upload_bytes),
    quotaBytes: row?.quota_bytes == null ? null : Number(row.quota_bytes),
    updatedAt: row?.updated_at ?? null,
  };
}

/** The org's policy as it stands now: one read by primary key. */
export async function loadPolicy(db: Executor, defaults: PolicyDefaults, orgId: string): Promise<ContentPolicy> {
  return policyFrom(await policyRepo.find(db, orgId), defaults);
}

/**
 * The policy every upload request reads before anything else, as it stands now (no cache: a PUT holds
 * for the next request, on every process). Concurrent requests share one statement per event-loop
 * turn: a read of its own per presign would halve the presign throughput.
 */
export class PolicyLookup {
  private readonly batcher: StatementBatcher<string, ContentPolicyRow | undefined>;

  constructor(
    db: Executor,
    private readonly defaults: PolicyDefaults,
  ) {
    this.batcher = new StatementBatcher(async (orgIds) => {
      const rows = await policyRepo.findMany(db, [...new Set(orgIds)]);
      const byOrg = new Map(rows.map((row) => [row.org_id, row]));
      return orgIds.map((orgId) => byOrg.get(orgId));
    });
  }

  async policyOf(orgId: string): Promise<ContentPolicy> {
    return policyFrom(await this.batcher.submit(orgId), this.defaults);
  }
}

export interface TypeRefusal {
  /** The list that refuses it: named in the 415's details and the confirm job's message. */
  list: 'refused_content_types' | 'allowed_content_types';
  contentType: string;
  message: string;
}

/** How many allowed types a refusal names before it stops listing them. */
const NAMED_TYPES = 10;

/** Why the policy refuses `type` (refused wins over allowed), or null when it takes it. */
export function refusalOf(policy: ContentPolicy, type: string): TypeRefusal | null {
  const contentType = mediaTypeEssence(type);
  if (matchesType(contentType, policy.refusedContentTypes)) {
    return {
      list: 'refused_content_types',
      contentType,
      message: `${contentType} files are refused by this organisation's content policy`,
    };
  }
  const allowed = policy.allowedContentTypes;
  if (allowed && !matchesType(contentType, allowed)) {
    const named = allowed.slice(0, NAMED_TYPES).join(', ') + (allowed.length > NAMED_TYPES ? ', …' : '');
    return {
      list: 'allowed_content_types',
      contentType,
      message: `${contentType} is not among the content types this organisation's policy allows (${named})`,
    };
  }
  return null;
}

/**
 * What sniffing says when the bytes carry no signature but read as UTF-8 text (content/sniff.ts's
 * text fallback): that the file is text, not which text format it is.
 */
const TEXT_GUESSES: ReadonlySet<string> = new Set(['text/plain', 'application/json']);

/** Declared types that are text formats: what a text guess cannot tell apart, so the declaration names it. */
const TEXT_FORMAT = /^(text\/.+|application\/([\w.-]+\+)?(json|xml|yaml)|application\/(x-ndjson|x-yaml|csv))$/;

/** What an upload whose bytes show no type of their own is judged as. */
export const UNKNOWN_TYPE = 'application/octet-stream';

/**
 * The type the policy judges stored bytes by: the type the bytes show, whatever was declared (a
 * declared type cannot hide an executable). Where they show only that they are text, a declared text
 * format names which (a CSV sniffs as text/plain); where they show nothing, the declared type; with
 * neither, application/octet-stream.
 */
export function judgedType(detected: string | null, declared: string | null): string {
  const claimed = declared ? mediaTypeEssence(declared) : null;
  if (!detected) return claimed ?? UNKNOWN_TYPE;
  if (TEXT_GUESSES.has(detected) && claimed && TEXT_FORMAT.test(claimed)) return claimed;
  return detected;
}
