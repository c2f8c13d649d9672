import type { IncomingMessage } from 'node:http';
import { newId } from '../ids.js';

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echo a client's X-Request-Id when it is sane (so its logs and ours line up), else mint one. */
export function newRequestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && SANE_ID.test(given) ? given : newId();
}
