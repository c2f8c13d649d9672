import type { Caller } from '../../access/caller.js';
import { findOwned } from '../../access/find-owned.js';
import { cadFormatOf } from '../../cad/formats.js';
import type { UploadRow } from '../../db/schema.js';
import type { ModuleDeps } from '../module.js';
import { previewsRepo } from './repo.js';
import { requestPreviews } from './request.js';

export type PreviewUrlStatus = 'ok' | 'pending' | 'failed' | 'no_dataset';

export interface PreviewUrl {
  data_source_id: string | null;
  status: PreviewUrlStatus;
  url: string | null;
  /** Why a preview failed: the conversion's reason (`timeout`, `memory_limit`, `unsupported`, …). */
  reason: string | null;
}

const NO_DATASET: PreviewUrl = { data_source_id: null, status: 'no_dataset', url: null, reason: null };

/** Answers where a part's or an upload's GLB preview stands, with a short-lived URL once it is made. */
export class PreviewService {
  constructor(private readonly deps: ModuleDeps) {}

  /**
   * The part's most recent revision → its 3D model: the primary active dataset when it is one, else
   * the newest active dataset that is one. A CAD dataset in a format we cannot convert (a native
   * SolidWorks part, say) answers `failed` with its id; no 3D dataset at all answers `no_dataset`.
   */
  async forPart(caller: Caller, partId: string, baseUrl: string): Promise<PreviewUrl> {
    await findOwned(this.deps.db, caller, 'part', partId);
    const candidates = await this.deps.db
      .selectFrom('dataset_links as l')
      .innerJoin('uploads as u', 'u.id', 'l.upload_id')
      .selectAll('u')
      .select('l.role')
      .where('l.part_revision_id', '=', (eb) =>
        eb
          .selectFrom('part_revisions')
          .select('id')
          .where('part_id', '=', partId)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(1),
      )
      .where('l.is_active', '=', true)
      .orderBy('l.is_primary', 'desc')
      .orderBy('l.created_at', 'desc')
      .execute();
    const model = candidates.find((c) => cadFormatOf(c.name));
    if (model) return this.statusOf(model, baseUrl);
    const unconvertible = candidates.find((c) => c.role === 'cad_3d');
    return unconvertible ? { data_source_id: unconvertible.id, status: 'failed', url: null, reason: 'unsupported' } : NO_DATASET;
  }

  async forUpload(caller: Caller, uploadId: string, baseUrl: string): Promise<PreviewUrl> {
    const upload = await findOwned(this.deps.db, caller, 'upload', uploadId);
    if (!cadFormatOf(upload.name)) return { data_source_id: upload.id, status: 'no_dataset', url: null, reason: null };
    return this.statusOf(upload, baseUrl);
  }

  private async statusOf(upload: UploadRow, baseUrl: string): Promise<PreviewUrl> {
    const answer = (status: PreviewUrlStatus, url: string | null = null, reason: string | null = null): PreviewUrl => ({
      data_source_id: upload.id,
      status,
      url,
      reason,
    });
    if (upload.status === 'pending') return answer('pending');
    if (upload.status !== 'confirmed') return answer('failed', null, `upload_${upload.status}`);
    const preview = await previewsRepo.find(this.deps.db, upload.id);
    if (!preview) {
      // Confirmed before previews existed (or its request was lost): start it now rather than never.
      await this.deps.queue.transaction(this.deps.db, (t) => requestPreviews(t, [upload]));
      return answer('pending');
    }
    if (preview.status !== 'ok') return answer(preview.status, null, preview.failure_reason);
    const url = await this.deps.blobs.presignGet(
      preview.blob_key!,
      { filename: `${upload.name.replace(/\.[^.]*$/, '')}.glb`, contentType: 'model/gltf-binary' },
      { expiresInSeconds: this.deps.config.limits.downloadTtlSeconds, baseUrl },
    );
    return answer('ok', url);
  }
}
