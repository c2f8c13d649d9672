import { Type } from '@sinclair/typebox';
import type { Server } from '@tus/server';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { Readable } from 'node:stream';
import { badRequest } from '../../errors.js';
import { principalOf } from '../../http/auth.js';
import { baseUrlOf } from '../../http/base-url.js';
import { routesOf } from '../../http/route.js';
import { IdParams } from '../uploads/schema.js';
import { sendTusAnswer, unsupportedVersion, webRequestOf } from './answers.js';
import { checkMetadataSize } from './metadata.js';
import { type TusCall, runTusCall } from './protocol.js';
import type { TusUploads } from './service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/cors's options for one route (src/http/cors.ts installs it for the app). */
    cors?: { strictPreflight?: boolean; preflightContinue?: boolean };
  }
}

const BYTES = Type.Unsafe({
  type: ['object', 'null'],
  description: 'Bytes of the file from `Upload-Offset` on, as `application/offset+octet-stream`.',
});

/**
 * `/api/v1/tus`: the tus 1.0 protocol (creation, creation-with-upload, termination) through
 * @tus/server, behind the same API key, scopes and error envelope as every route. Each request is
 * handed to the protocol engine as it came, its body unread, and its answer sent back through Fastify.
 */
export async function tusRoutes(app: FastifyInstance, opts: { server: Server; tus: TusUploads; publicUrl: string | null }) {
  const { server, tus, publicUrl } = opts;
  // Every body reaches the engine as a stream, whatever its type: tus judges a PATCH's Content-Type itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = principalOf(request);
    const id = (request.params as { data_source_id?: string }).data_source_id ?? null;
    const call: TusCall = { caller, id, baseUrl: baseUrlOf(request, publicUrl) };
    try {
      // Before the protocol's own checks: another org's id answers as an unknown one does, whatever the headers.
      if (id) {
        const upload = await tus.find(caller, id);
        // A PATCH at another offset is refused here with the offset to resume from (tus's own 409 names none).
        const offset = request.headers['upload-offset'];
        if (request.method === 'PATCH' && typeof offset === 'string' && /^\d{1,15}$/.test(offset)) tus.expectOffset(upload, Number(offset));
      } else refuseUnsupportedCreation(request);
      // @tus/server answers another version 400; tus says 412 (a missing one it answers 412 itself).
      const version = request.headers['tus-resumable'];
      if (version !== undefined && version !== '1.0.0') throw unsupportedVersion();
    } catch (error) {
      if (request.body instanceof Readable) reply.header('connection', 'close');
      throw error;
    }
    const answer = await runTusCall(call, () => server.handleWeb(webRequestOf(request, reply)));
    return sendTusAnswer(request, reply, answer, call.failure);
  };

  const streamed: RouteShorthandOptions = {
    bodyLimit: Number.MAX_SAFE_INTEGER,
    // tus has its own idempotency (a PATCH names the offset it writes at); a stored answer would lack its headers.
    onRequest: async (request) => {
      delete request.headers['idempotency-key'];
    },
  };
  const route = routesOf(app, { tags: ['uploads', 'tus'] });

  route.post('', {
    operationId: 'createTusUpload',
    summary: 'Create a tus upload',
    description:
      'tus 1.0 creation (and creation-with-upload): headers `Tus-Resumable: 1.0.0`, `Upload-Length` (required) and ' +
      '`Upload-Metadata` with `filename` (or `name`), optional `filetype` (or `type`), `folder_id` and `sha256`. ' +
      'The upload is started as `POST /api/v1/uploads/multipart` starts one (content policy, quota, folder, deduplication); ' +
      '`Location` names it, `/api/v1/tus/{id}` with the id of `GET /api/v1/uploads/{id}`. A request without ' +
      '`Tus-Resumable` is answered 412.',
    scope: 'uploads:write',
    consumes: ['application/offset+octet-stream'],
    body: BYTES,
    response: { 201: { description: 'Created; `Location` is the upload URL, `Upload-Offset` what a body with the creation stored.' } },
    notFound: 'folder',
    errors: [400, 409, 413, 415, 422],
    options: streamed,
    handler: forward,
  });

  route.head('/:data_source_id', {
    operationId: 'getTusUploadOffset',
    summary: 'Where a tus upload stands',
    description: '`Upload-Offset` (the bytes stored) and `Upload-Length`: a client resumes from the offset.',
    scope: 'uploads:write',
    params: IdParams,
    response: { 200: { description: 'The offset and length of the upload, in headers.' } },
    notFound: 'tus upload',
    handler: forward,
  });

  route.patch('/:data_source_id', {
    operationId: 'appendTusUpload',
    summary: 'Send bytes of a tus upload',
    description:
      'tus 1.0 PATCH: `Upload-Offset` must be where the upload stands (409 otherwise, or while another PATCH writes it), ' +
      'the body `application/offset+octet-stream`. What arrives is kept even when the connection drops. The PATCH that ' +
      'brings the last byte assembles the file and enqueues its confirm job (sha256, type sniffing, policy, deduplication), ' +
      'named in `Stowage-Job-Id`.',
    scope: 'uploads:write',
    params: IdParams,
    consumes: ['application/offset+octet-stream'],
    body: BYTES,
    response: {
      204: { description: 'Stored; `Upload-Offset` says how far the upload got, and the last PATCH adds `Stowage-Job-Id`.' },
    },
    notFound: 'tus upload',
    errors: [400, 409, 413],
    options: streamed,
    handler: forward,
  });

  route.delete('/:data_source_id', {
    operationId: 'terminateTusUpload',
    summary: 'Terminate a tus upload',
    description: 'tus termination: cancels the upload as `POST /api/v1/uploads/{id}/cancel` does (409 once it is confirmed or failed).',
    scope: 'uploads:write',
    params: IdParams,
    response: { 204: { description: 'Terminated: the upload is cancelled and its stored parts are freed.' } },
    notFound: 'tus upload',
    errors: [409],
    options: streamed,
    handler: forward,
  });

  // Discovery (Tus-Version, Tus-Extension, Tus-Max-Size), without a key; also the browsers' preflight,
  // whose CORS headers the app's CORS adds before this answers (a plain tus OPTIONS is no preflight).
  const discovery = async (request: FastifyRequest, reply: FastifyReply) => {
    const answer = await runTusCall({ caller: null, id: null, baseUrl: '' }, () => server.handleWeb(webRequestOf(request, reply)));
    return sendTusAnswer(request, reply, answer, undefined);
  };
  for (const url of ['', '/:data_source_id']) {
    app.route({
      method: 'OPTIONS',
      url,
      prefixTrailingSlash: 'slash',
      schema: { hide: true },
      config: { cors: { strictPreflight: false, preflightContinue: true } },
      handler: discovery,
    });
  }
}

/** What this server does not take, refused before anything is created. */
function refuseUnsupportedCreation(request: FastifyRequest): void {
  if (request.headers['upload-defer-length'] !== undefined) {
    throw badRequest('Upload-Length is required: uploads of deferred length (creation-defer-length) are not supported');
  }
  if (request.headers['upload-concat'] !== undefined) {
    throw badRequest('concatenation is not supported: send the file as one upload (turn parallel uploads off in the client)');
  }
  const metadata = request.headers['upload-metadata'];
  checkMetadataSize(Array.isArray(metadata) ? metadata.join(',') : metadata);
}
