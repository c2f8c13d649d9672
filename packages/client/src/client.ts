import createClient, { type Client } from 'openapi-fetch';
import { errorOf, rememberRequest, unwrap } from './errors.js';
import { type ListItem, type ListParams, type ListPath, eachRow } from './lists.js';
import type { components, operations, paths } from './openapi.js';

export type Upload = components['schemas']['Upload'];
export type Folder = components['schemas']['Folder'];
export type Part = components['schemas']['PartPublic'];
export type StowageFile = components['schemas']['File'];
export type Job = operations['getJob']['responses'][200]['content']['application/json'];
export type NewPart = operations['createPart']['requestBody']['content']['application/json'];

export interface StowageClientOptions {
  /** Where the server answers, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  apiKey: string;
  /** Used for every request, the API's and storage's (downloads); defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Gives up (throws) after this long; a day by default. */
  timeoutMs?: number;
}

/** What a Stowage client adds to the typed calls (GET, POST, … of openapi-fetch). */
export interface StowageHelpers {
  readonly baseUrl: string;
  /** The client's fetch without its API key: for storage URLs (presigned uploads, downloads), which must not see the key. */
  readonly fetchUnkeyed: typeof globalThis.fetch;
  /** Polls the confirm job until it ends, then answers the upload as it then stands (confirmed, or failed with its reason). */
  waitForVerdict(uploadId: string, jobId: string, options?: WaitOptions): Promise<Upload>;
  /** Every row of a list, walking it page by page by `cursor` as the rows are taken. */
  each<P extends ListPath>(path: P, params?: ListParams<P>, init?: { signal?: AbortSignal }): AsyncGenerator<ListItem<P>, void, undefined>;
  /** The part with this part_number, created with `fields` when the organisation has none (a concurrent creation is found, not duplicated). */
  ensurePart(partNumber: string, fields?: Omit<NewPart, 'part_number'>): Promise<Part>;
  /** The folder at a path of names (`projects/drawings`), creating what is missing. Needs `files:write`. */
  ensureFolder(path: string): Promise<Folder>;
}

export type StowageClient = Client<paths> & StowageHelpers;

const DAY_MS = 24 * 3600_000;

/**
 * A client of the Stowage API: openapi-fetch's typed calls (`client.GET('/api/v1/uploads/{data_source_id}',
 * …)`, answering `{data, error, response}`; `unwrap` turns that into the data or a StowageError), with
 * the helpers of StowageHelpers. Browser-safe: nothing here needs Node.
 */
export function createStowageClient(options: StowageClientOptions): StowageClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  // Looked up on each call, so a fetch replaced after the client was made is still the one used.
  const fetchUnkeyed: typeof globalThis.fetch = (input, init) => (options.fetch ?? globalThis.fetch)(input, init);
  const api = createClient<paths>({ baseUrl, headers: { 'x-api-key': options.apiKey }, fetch: (request) => fetchUnkeyed(request) });
  api.use({ onResponse: ({ request, response }) => void rememberRequest(response, request) });

  const helpers: StowageHelpers = {
    baseUrl,
    fetchUnkeyed,

    async waitForVerdict(uploadId, jobId, wait = {}) {
      const deadline = Date.now() + (wait.timeoutMs ?? DAY_MS);
      // Quick at first (most confirms take well under a second) and never over a second apart.
      let delay = 100;
      for (;;) {
        const job = unwrap(await api.GET('/api/v1/jobs/{job_id}', { params: { path: { job_id: jobId } }, signal: wait.signal }));
        if (job.status === 'succeeded' || job.status === 'failed') {
          return unwrap(await api.GET('/api/v1/uploads/{data_source_id}', { params: { path: { data_source_id: uploadId } } }));
        }
        if (Date.now() > deadline) throw new Error(`the confirm job ${jobId} of upload ${uploadId} did not finish in time`);
        await sleep(delay, wait.signal);
        delay = Math.min(1000, delay * 1.3);
      }
    },

    each: (path, params, init) => eachRow(api, path, params, init),

    async ensurePart(partNumber, fields = {}) {
      const find = async () => {
        for await (const part of eachRow(api, '/api/v1/parts/', { query: { q: partNumber, limit: 200 } })) {
          if (part.part_number === partNumber) return part;
        }
        return null;
      };
      const found = await find();
      if (found) return found;
      const created = await api.POST('/api/v1/parts/', { body: { ...fields, part_number: partNumber } });
      if (created.data) return created.data;
      if (created.response.status === 409) {
        const raced = await find();
        if (raced) return raced;
      }
      throw errorOf(created);
    },

    async ensureFolder(path) {
      const names = path.split('/').filter((name) => name.trim() !== '');
      if (!names.length) throw new TypeError(`a folder path names at least one folder: ${JSON.stringify(path)}`);
      const create = (name: string, parentId: string | null) => api.POST('/api/v1/folders/', { body: { name, parent_id: parentId } });
      let parentId: string | null = null;
      let folder: Folder | null = null;
      // Creating first and taking the folder a 409 names is one request per level, and never races a concurrent creation.
      for (const name of names) {
        const created = await create(name, parentId);
        if (created.data) {
          folder = created.data;
          parentId = created.data.id;
          continue;
        }
        const existing = existingFolderId(created.response.status, created.error);
        if (!existing) throw errorOf(created);
        folder = null;
        parentId = existing;
      }
      return folder ?? unwrap(await api.GET('/api/v1/folders/{folder_id}', { params: { path: { folder_id: parentId! } } }));
    },
  };
  return Object.assign(api, helpers);
}

function existingFolderId(status: number, error: unknown): string | null {
  if (status !== 409) return null;
  const id = (error as { error?: { details?: { existing_folder_id?: unknown } } } | undefined)?.error?.details?.existing_folder_id;
  return typeof id === 'string' ? id : null;
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
