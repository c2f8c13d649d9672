/**
 * Property-based fuzzing of every route of /openapi.json over real HTTP (raw sockets), with valid,
 * mutated and malformed requests. Pass: no answer ≥ 500, every error in the envelope with a matching
 * X-Request-Id, every answer within 10 s. FUZZ_SEED replays a run; FUZZ_RUNS changes its size.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createFixtures } from './helpers/fuzz-fixtures.js';
import { inParallel, type RawAnswer, sendRaw } from './helpers/fuzz-http.js';
import { type FuzzRequest, fuzzRequest, toBytes } from './helpers/fuzz-requests.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { readRoutes, routeName } from './helpers/openapi-routes.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const TIMEOUT_MS = 10_000;
const SOCKETS = Number(process.env.FUZZ_SOCKETS ?? 8);

/** What is wrong with an answer, or null: the contract every answer of the fuzz must keep. */
export function problemWith(answer: RawAnswer, method: string): string | null {
  if (answer.status >= 500) return `answered ${answer.status}`;
  const requestId = answer.headers['x-request-id'];
  if (!requestId) return 'no X-Request-Id header';
  if (answer.status < 400 || method === 'HEAD') return null;
  let body: { error?: Record<string, unknown> };
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return 'error answer is not JSON';
  }
  const error = body?.error;
  if (!error || Object.keys(body).length !== 1) return 'error answer is not the envelope';
  const keys = Object.keys(error).sort().join(',');
  if (keys !== 'code,details,message,request_id,retryable') return `envelope keys are ${keys}`;
  if (typeof error.code !== 'string' || typeof error.message !== 'string' || !error.message || typeof error.retryable !== 'boolean')
    return 'envelope fields have wrong types';
  if (error.request_id !== requestId) return `request_id ${error.request_id} differs from X-Request-Id ${requestId}`;
  return null;
}

const describeRequest = (r: FuzzRequest) => {
  const bytes = toBytes(r);
  const shown = bytes.length > 1500 ? `${bytes.subarray(0, 1500).toString('latin1')}… (${bytes.length} bytes)` : bytes.toString('latin1');
  return `${r.route} [${r.probe}] framing=${r.framing}\n${JSON.stringify(shown)}`;
};

describe(`fuzzing every route of /openapi.json (seed ${SEED}, ${RUNS} requests)`, () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startStowage(
      { RATE_LIMIT_PER_KEY: '10000000', RATE_LIMIT_PER_ORG: '10000000', STOWAGE_WEBHOOK_ALLOW_PRIVATE: 'true' },
      { worker: false, storage: 'local' },
    );
    port = Number(new URL(h.url).port);
  });
  after(() => h?.close());

  // Its own timeout: the runner's default (120 s) is tight for 10,000 requests on a busy 2-core machine.
  it('no 5xx, every error in the envelope with X-Request-Id, every answer within 10 s', { timeout: 600_000 }, async () => {
    console.log(`# fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${RUNS} requests, ${SOCKETS} sockets`);
    const routes = await readRoutes(h.url);
    const world = {
      routes,
      mine: await createFixtures(h, h.keys.admin, 'mine'),
      theirs: await createFixtures(h, h.keys.otherOrg, 'theirs'),
      keys: h.keys,
      bodyLimit: 1_048_576,
    };
    const generating = performance.now();
    const generated = fc.sample(fuzzRequest(world), { seed: SEED, numRuns: RUNS });
    // FUZZ_ONLY=6992,7001 replays just those requests of the run (the #numbers a failure prints).
    const only = process.env.FUZZ_ONLY?.split(',').map(Number);
    // Destructive requests last, so the fixtures live while the rest probe past their lookups;
    // each keeps its number in the generated run, which FUZZ_ONLY takes.
    const destructive = (r: FuzzRequest) => r.method === 'DELETE' || /\/(cancel|bulk-cancel)$/.test(r.route);
    const numbered = generated.map((request, index) => ({ request, index })).filter(({ index }) => !only || only.includes(index));
    const ordered = [...numbered.filter(({ request }) => !destructive(request)), ...numbered.filter(({ request }) => destructive(request))];
    const requests = ordered.map(({ request }) => request);
    console.log(`# fuzz: generated in ${Math.round(performance.now() - generating)} ms`);

    const started = performance.now();
    const failures: string[] = [];
    const byClass = new Map<string, number>();
    const reachedBy = new Map<string, Set<number>>();
    let slowest = { ms: 0, what: '' };
    const timeBy = new Map<string, number>();
    await inParallel(ordered, SOCKETS, async ({ request, index }) => {
      const outcome = await sendRaw(port, toBytes(request), TIMEOUT_MS, {
        head: request.method === 'HEAD',
        halfClose: request.truncated || request.framing === 'short-length',
      });
      const timeKey = request.route === 'malformed' ? `malformed: ${request.probe.slice(0, 30)}` : request.route;
      timeBy.set(timeKey, (timeBy.get(timeKey) ?? 0) + outcome.ms);
      if (outcome.ms > slowest.ms) slowest = { ms: outcome.ms, what: `${request.route} [${request.probe}]` };
      if ('failure' in outcome) {
        failures.push(`#${index} ${outcome.failure} after ${Math.round(outcome.ms)} ms (${outcome.detail}): ${describeRequest(request)}`);
        return;
      }
      const statusClass = `${Math.floor(outcome.status / 100)}xx`;
      byClass.set(statusClass, (byClass.get(statusClass) ?? 0) + 1);
      if (!reachedBy.has(request.route)) reachedBy.set(request.route, new Set());
      reachedBy.get(request.route)!.add(outcome.status);
      const problem = problemWith(outcome, request.method);
      if (problem)
        failures.push(`#${index} ${problem}: ${outcome.body.subarray(0, 300).toString('latin1')}\n  ${describeRequest(request)}`);
    });
    const seconds = (performance.now() - started) / 1000;

    const listed = routes.map(routeName);
    const deep = listed.filter((r) => [...(reachedBy.get(r) ?? [])].some((s) => s >= 200 && s < 300));
    console.log(
      `# fuzz: ${requests.length} requests in ${seconds.toFixed(1)} s; answers ${[...byClass]
        .sort()
        .map(([c, n]) => `${c}: ${n}`)
        .join(', ')}`,
    );
    console.log(
      `# fuzz: ${listed.filter((r) => reachedBy.has(r)).length}/${listed.length} OpenAPI routes hit, ${deep.length} of them answered 2xx at least once; slowest ${Math.round(slowest.ms)} ms (${slowest.what})`,
    );
    console.log(
      `# fuzz: never 2xx: ${
        listed
          .filter((r) => !deep.includes(r))
          .map((r) => `${r} (${[...(reachedBy.get(r) ?? [])].sort().join('/')})`)
          .join(', ') || 'none'
      }`,
    );
    if (process.env.FUZZ_PROFILE)
      console.log(
        [...timeBy]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12)
          .map(([r, ms]) => `# ${Math.round(ms)} ms ${r}`)
          .join('\n'),
      );
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200, 'the server is still up');
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failing requests (seed ${SEED}); the first are listed`);
    if (only) console.log(requests.map(describeRequest).join('\n'));
    assert.ok(requests.length >= 10_000 || process.env.FUZZ_RUNS || only, 'at least 10,000 requests a run');
    if (!only)
      assert.deepEqual(
        listed.filter((r) => !reachedBy.has(r)),
        [],
        'every route was tried',
      );
  });
});
