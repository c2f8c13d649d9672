import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { installAuth } from '../src/http/auth.js';
import { installErrorHandling } from '../src/http/error-handler.js';
import { FixedWindowLimiter } from '../src/http/rate-limit.js';
import { installRateLimits } from '../src/http/rate-limit-hook.js';
import { newRequestId } from '../src/http/request-id.js';
import { KeysService } from '../src/modules/keys/service.js';
import { assertError } from './helpers/assertions.js';
import { type ApiAnswer, type Harness, startStowage } from './helpers/harness.js';

/** A clock the test moves by hand, in milliseconds. */
function handClock(startMs = 1_700_000_000_123) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => void (nowMs += ms) };
}

describe('the fixed-window limiter', () => {
  it("opens a window at a caller's first request and refuses past the limit until it ends", () => {
    const clock = handClock();
    const limiter = new FixedWindowLimiter(60, clock.now);
    assert.deepEqual(limiter.hit('a', 3), { allowed: true, limit: 3, remaining: 2, resetSeconds: 60 });
    clock.advance(20_500);
    assert.deepEqual(limiter.hit('a', 3), { allowed: true, limit: 3, remaining: 1, resetSeconds: 40 });
    assert.deepEqual(limiter.hit('a', 3), { allowed: true, limit: 3, remaining: 0, resetSeconds: 40 });
    assert.deepEqual(limiter.hit('a', 3), { allowed: false, limit: 3, remaining: 0, resetSeconds: 40 });
    clock.advance(39_499);
    assert.deepEqual(limiter.hit('a', 3), { allowed: false, limit: 3, remaining: 0, resetSeconds: 1 }, 'one millisecond before the end');
    clock.advance(1);
    assert.deepEqual(limiter.hit('a', 3), { allowed: true, limit: 3, remaining: 2, resetSeconds: 60 }, 'a fresh window');
  });

  it("keeps each caller's window apart and does not count refused requests", () => {
    const clock = handClock();
    const limiter = new FixedWindowLimiter(10, clock.now);
    limiter.hit('a', 1);
    for (let i = 0; i < 5; i++) assert.equal(limiter.hit('a', 1).allowed, false);
    clock.advance(7_000);
    // b's window starts now, not with a's: a burst is never cut in two by when another caller began.
    assert.deepEqual(limiter.hit('b', 2), { allowed: true, limit: 2, remaining: 1, resetSeconds: 10 });
    clock.advance(3_000);
    assert.equal(limiter.hit('a', 1).allowed, true, "a's window ended after 10 s, refusals and all");
    assert.deepEqual(limiter.hit('b', 2), { allowed: true, limit: 2, remaining: 0, resetSeconds: 7 });
  });

  it('forgets callers whose window has ended', () => {
    const clock = handClock();
    const limiter = new FixedWindowLimiter(10, clock.now);
    for (let i = 0; i < 100; i++) limiter.hit(`caller-${i}`, 5);
    assert.equal(limiter.tracked, 100);
    clock.advance(10_000);
    limiter.hit('late', 5);
    assert.equal(limiter.tracked, 1);
  });
});

describe('rate limits on the API', () => {
  let h: Harness;
  before(async () => {
    // An hour-long window: every request of these tests falls in the window its first one opened.
    h = await startStowage({ RATE_LIMIT_PER_KEY: '3', RATE_LIMIT_PER_ORG: '5', RATE_LIMIT_WINDOW_SECONDS: '3600' }, { worker: false });
  });
  after(() => h.close());

  const summary = (key: string) => h.api('GET', '/api/v1/uploads/summary', { key });
  const limitHeaders = (answer: ApiAnswer) => ['limit', 'remaining'].map((name) => answer.headers.get(`ratelimit-${name}`));

  function assertLimited(answer: ApiAnswer, scope: 'key' | 'org') {
    assertError(answer, 429, 'rate_limited', scope);
    assert.equal(answer.body.error.retryable, true);
    assert.equal(answer.body.error.details.scope, scope);
    const retryAfter = Number(answer.headers.get('retry-after'));
    assert.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
    assert.equal(answer.body.error.details.retry_after, retryAfter);
    assert.equal(answer.headers.get('ratelimit-reset'), String(retryAfter));
    assert.equal(answer.headers.get('ratelimit-remaining'), '0');
  }

  it('counts down per key, then answers 429 in the envelope with Retry-After', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await summary(h.keys.reader));
    assert.deepEqual(
      answers.slice(0, 3).map((a) => a.status),
      [200, 200, 200],
    );
    assert.deepEqual(answers.slice(0, 3).map(limitHeaders), [
      ['3', '2'],
      ['3', '1'],
      ['3', '0'],
    ]);
    const reset = Number(answers[0].headers.get('ratelimit-reset'));
    assert.ok(reset > 3500 && reset <= 3600, `RateLimit-Reset ${reset}`);
    assertLimited(answers[3], 'key');
  });

  it('limits the organisation across its keys, reporting the tighter limit, and leaves other organisations alone', async () => {
    // The reader spent 3 of the org's 5; its refused fourth did not count against the org.
    const first = await summary(h.keys.writer);
    assert.deepEqual(limitHeaders(first), ['5', '1'], 'the org has 1 left, the writer key 2: the tighter is reported');
    assert.equal((await summary(h.keys.writer)).status, 200);
    assertLimited(await summary(h.keys.admin), 'org');
    const elsewhere = await summary(h.keys.otherOrg);
    assert.equal(elsewhere.status, 200);
    assert.deepEqual(limitHeaders(elsewhere), ['3', '2']);
  });

  it('leaves unauthenticated routes alone', async () => {
    const health = await fetch(`${h.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.headers.get('ratelimit-limit'), null);
  });

  describe('the hook on its own clock', () => {
    let app: FastifyInstance;
    const clock = handClock();
    before(async () => {
      // The real auth, limits and error envelope on a one-route app whose limiter runs on the hand clock.
      app = Fastify({ genReqId: newRequestId });
      app.addHook('onRequest', async (request, reply) => void reply.header('x-request-id', request.id));
      installErrorHandling(app);
      const keys = new KeysService(h.runtime.database.db);
      installAuth(app, (presented) => keys.authenticate(presented));
      installRateLimits(app, { enabled: true, perKey: 2, perOrg: 100, windowSeconds: 60 }, clock.now);
      app.get('/limited', { config: { scope: 'uploads:read' } }, async () => ({ ok: true }));
    });
    after(() => app.close());

    const call = async (): Promise<ApiAnswer> => {
      const answer = await app.inject({ method: 'GET', url: '/limited', headers: { 'x-api-key': h.keys.writer } });
      return { status: answer.statusCode, headers: new Headers(answer.headers as Record<string, string>), body: answer.json() };
    };

    it('counts Retry-After down with the clock and opens a new window when it ends', async () => {
      assert.equal((await call()).status, 200);
      clock.advance(15_000);
      assert.equal((await call()).status, 200);
      const refused = await call();
      assertError(refused, 429, 'rate_limited');
      assert.equal(refused.headers.get('retry-after'), '45');
      clock.advance(44_000);
      assert.equal((await call()).headers.get('retry-after'), '1');
      clock.advance(1_000);
      const fresh = await call();
      assert.equal(fresh.status, 200);
      assert.deepEqual(
        ['limit', 'remaining', 'reset'].map((n) => fresh.headers.get(`ratelimit-${n}`)),
        ['2', '1', '60'],
      );
    });
  });
});
