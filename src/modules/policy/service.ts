import type { Db } from '../../db/database.js';
import { type FieldProblem, validationError } from '../../errors.js';
import { type ContentPolicy, type PolicyDefaults, loadPolicy, policyFrom } from './content-policy.js';
import { policyRepo } from './repo.js';
import type { ContentPolicyRequest } from './schema.js';

/** GET and PUT of an org's content policy; the uploads module enforces it. */
export class PolicyService {
  constructor(
    private readonly db: Db,
    private readonly defaults: PolicyDefaults,
  ) {}

  async get(orgId: string) {
    return policyView(await loadPolicy(this.db, this.defaults, orgId));
  }

  /** Replaces the policy as a whole: a field left out is back to its default. Nothing changes on a 422. */
  async put(orgId: string, body: ContentPolicyRequest) {
    const allowed = body.allowed_content_types ?? null;
    const refused = body.refused_content_types ?? null;
    const problems = contradictions(allowed, refused);
    if (problems.length) throw validationError(problems, 'the content policy contradicts itself');
    const row = await policyRepo.put(this.db, orgId, {
      allowed_content_types: allowed,
      refused_content_types: refused,
      max_upload_bytes: body.max_upload_bytes ?? null,
      quota_bytes: body.quota_bytes ?? null,
    });
    return policyView(policyFrom(row, this.defaults));
  }
}

/** A type both allowed and refused is refused (refused wins): listing it in both is a mistake worth naming. */
function contradictions(allowed: readonly string[] | null, refused: readonly string[] | null): FieldProblem[] {
  if (!allowed || !refused) return [];
  const allowedSet = new Set(allowed);
  return refused.flatMap((type, i) =>
    allowedSet.has(type)
      ? [{ path: `body.refused_content_types[${i}]`, message: `${type} is also in allowed_content_types: list it in one of them` }]
      : [],
  );
}

export function policyView(policy: ContentPolicy) {
  return {
    allowed_content_types: policy.allowedContentTypes ? [...policy.allowedContentTypes] : null,
    refused_content_types: [...policy.refusedContentTypes],
    max_upload_bytes: policy.maxUploadBytes,
    quota_bytes: policy.quotaBytes,
    is_default: policy.updatedAt === null,
    updated_at: policy.updatedAt?.toISOString() ?? null,
  };
}
