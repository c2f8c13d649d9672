import { AsyncLocalStorage } from 'node:async_hooks';
import type { Readable } from 'node:stream';
import { Server } from '@tus/server';
import { DataStore, Metadata, Upload } from '@tus/utils';
import type { Principal } from '../../access/caller.js';
import type { TusUploads } from './service.js';

/** One request handed to @tus/server: who sends it, for which upload, and what went wrong, if anything. */
export interface TusCall {
  caller: Principal | null;
  /** The upload id of the URL; null on the creation route. */
  id: string | null;
  /** Where this server is reached, for the Location of a new upload. */
  baseUrl: string;
  /** What a hook or the store threw, for the route to answer in the error envelope. */
  failure?: unknown;
}

export const TUS_PATH = '/api/v1/tus';

/**
 * @tus/server sees storage only through a DataStore, whose methods are given an upload id and no
 * request: the request's caller reaches them through this store of the call in progress.
 */
const calls = new AsyncLocalStorage<TusCall>();

export const runTusCall = <T>(call: TusCall, run: () => Promise<T>): Promise<T> => calls.run(call, run);

function current(): TusCall & { caller: Principal } {
  const call = calls.getStore();
  if (!call?.caller) throw new Error('a tus request reached the store outside an authenticated call');
  return call as TusCall & { caller: Principal };
}

/** The DataStore of Stowage's uploads: every method is a TusUploads call for the request's caller. */
class StowageStore extends DataStore {
  constructor(private readonly tus: TusUploads) {
    super();
    // No creation-defer-length (Upload-Length is required: policy and quota judge the size up front),
    // no concatenation (one upload is one file), no expiration header (pending uploads expire as the
    // other flows' do, by the sweeper).
    this.extensions = ['creation', 'creation-with-upload', 'termination'];
  }

  /** The row exists already: the naming function made it, as its id is the tus id. */
  override async create(upload: Upload): Promise<Upload> {
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const state = await this.tus.state(current().caller, id);
    const metadata = state.rawMetadata ? Metadata.parse(state.rawMetadata) : undefined;
    return new Upload({ id, size: state.size, offset: state.offset, metadata });
  }

  override write(stream: Readable, id: string, offset: number): Promise<number> {
    return this.tus.write(current().caller, id, offset, stream);
  }

  override remove(id: string): Promise<void> {
    return this.tus.terminate(current().caller, id);
  }
}

/**
 * The protocol engine. Its own CORS answers are off (allowedOrigins: []): the app's CORS (src/http/cors.ts)
 * is the one policy. Its in-memory locker orders the requests for one upload within this process (a
 * resume waits for the dropped PATCH to store its tail); across processes the writer lease does.
 */
export function tusServer(tus: TusUploads, maxSize: number): Server {
  return new Server({
    path: TUS_PATH,
    datastore: new StowageStore(tus),
    maxSize,
    allowedOrigins: [],
    // The creation: the upload row is made here, so that its id is the one in the Location.
    namingFunction: (req, metadata) =>
      tus.create(current().caller, {
        size: Number(req.headers.get('upload-length')),
        metadata,
        rawMetadata: req.headers.get('upload-metadata'),
      }),
    generateUrl: (_req, { id }) => `${current().baseUrl}${TUS_PATH}/${id}`,
    getFileIdFromRequest: () => calls.getStore()?.id ?? undefined,
    onUploadFinish: async (_req, upload) => {
      const jobId = await tus.confirmJobOf(current().caller, upload.id);
      return jobId ? { headers: { 'Stowage-Job-Id': jobId } } : {};
    },
    onResponseError: (_req, error) => {
      const call = calls.getStore();
      if (call) call.failure = error;
      return undefined;
    },
  });
}
