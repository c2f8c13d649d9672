import type { JobTransaction } from '../jobs/queue.js';

/** What a listener learns of uploads that just became confirmed. */
export interface ConfirmedUpload {
  id: string;
  org_id: string;
  name: string;
}

/**
 * What modules tell each other, so that none imports another to react to its changes. Each runs
 * inside the transaction that made the change: what a listener writes or enqueues commits with it.
 */
export interface ModuleListeners {
  /** Uploads became confirmed: by the confirm job, a streamed upload, or deduplication. */
  uploadsConfirmed(t: JobTransaction, uploads: readonly ConfirmedUpload[]): Promise<void>;
}

/** Emits each event to every module listening, in the order the composition root lists them. */
export class ModuleEvents implements ModuleListeners {
  private readonly listeners: Partial<ModuleListeners>[] = [];

  listen(listeners: Partial<ModuleListeners>): void {
    this.listeners.push(listeners);
  }

  async uploadsConfirmed(t: JobTransaction, uploads: readonly ConfirmedUpload[]): Promise<void> {
    if (!uploads.length) return;
    for (const listener of this.listeners) await listener.uploadsConfirmed?.(t, uploads);
  }
}
