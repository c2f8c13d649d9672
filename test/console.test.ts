/**
 * The web console at /console, end to end in a real browser: Debian's chromium driven by
 * playwright-core against a real server (real PostgreSQL, real disk, the worker running). Signs in by
 * keyboard, drops a 20 MiB file on Uppy's Dashboard (tus) and watches it reach `confirmed`, opens the
 * 3D preview of a STEP part in <model-viewer>, deletes a file and recovers it from the trash, and
 * checks a phone-sized viewport. Screenshots go to test-artifacts/console/.
 *
 * Needs /usr/bin/chromium (scripts/ci/install-browser.sh): skipped without it, except under CI.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutBucketCorsCommand, S3Client } from '@aws-sdk/client-s3';
import Fastify from 'fastify';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { installErrorHandling } from '../src/http/error-handler.js';
import { consoleRoutes } from '../src/modules/console/routes.js';
import { firstPassOnly } from './helpers/ci-pass.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(import.meta.dirname, '..', 'test-artifacts', 'console');
const SAMPLES = path.join(path.dirname(createRequire(import.meta.url).resolve('occt-import-js/package.json')), 'test', 'testfiles');
const STEP_SAMPLE = path.join(SAMPLES, 'cax-if', 'as1_pe_203.stp');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

// A silent skip in CI would hide a broken console: there the browser must be installed.
const skip = existsSync(CHROMIUM) || process.env.CI ? false : `${CHROMIUM} is missing: run scripts/ci/install-browser.sh to run this test`;

/**
 * With the S3 driver a preview's GLB comes from the bucket, another origin than the console's: the
 * bucket needs the CORS rule docs/console.md asks operators for, GET from the console's origin.
 */
async function letConsoleReadBucket(h: Harness) {
  const s3 = h.config.s3;
  if (!s3) return;
  const client = new S3Client({
    endpoint: s3.endpoint ?? undefined,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  try {
    await client.send(
      new PutBucketCorsCommand({
        Bucket: s3.bucket,
        CORSConfiguration: {
          CORSRules: [{ AllowedOrigins: [h.url], AllowedMethods: ['GET', 'HEAD'], AllowedHeaders: ['*'], MaxAgeSeconds: 600 }],
        },
      }),
    );
  } finally {
    client.destroy();
  }
}

// CI's second pass (Ceph) leaves it out for time: it passed there 9/9 when the console landed.
describe('the console', { skip: firstPassOnly }, () => {
  describe('the web console in a real browser', { skip }, () => {
    let h: Harness;
    let key: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    /** What the page complained about: script errors, refused requests of its policy, console errors. */
    const complaints: string[] = [];
    let serial = 0;
    let scratch: string;
    let stepPart: Promise<{ id: string; part_number: string }>;

    const api = async (method: string, route: string, body?: unknown) => {
      const answer = await h.api(method, route, { key, body });
      assert.ok(answer.status < 300, `${method} ${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    };

    before(async () => {
      assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: CI must run scripts/ci/install-browser.sh before the tests`);
      await mkdir(ARTIFACTS, { recursive: true });
      scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-console-test-'));
      [h, browser] = await Promise.all([
        startStowage({ STOWAGE_PREVIEW_TIMEOUT_SECONDS: '60' }),
        chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            // WebGL for model-viewer, drawn in software: no GPU in CI.
            '--use-angle=swiftshader',
            '--enable-unsafe-swiftshader',
          ],
        }),
      ]);
      await letConsoleReadBucket(h);
      key = await h.createKey(h.orgId, ['uploads:read', 'uploads:write', 'files:read', 'files:write', 'parts:read', 'parts:write']);
      // Made now, so the preview job converts the model while the first tests run.
      stepPart = partWithStepModel();
      stepPart.catch(() => {});
      context = await browser.newContext({ viewport: DESKTOP });
      page = await watchedPage(context);
    });

    after(async () => {
      await browser?.close();
      await h?.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    /** A part whose revision A has the STEP sample as its primary dataset (a one-call dataset upload). */
    async function partWithStepModel() {
      const part = await api('POST', '/api/v1/parts', { part_number: `CONSOLE-${++serial}`, description: 'Bracket assembly' });
      const revision = await api('POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: 'A' });
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(await readFile(STEP_SAMPLE))]), 'as1_pe_203.stp');
      const linked = await fetch(`${h.url}/api/v1/parts/${part.id}/revisions/${revision.id}/datasets/upload`, {
        method: 'POST',
        headers: { 'x-api-key': key },
        body: form,
      });
      assert.equal(linked.status, 201, await linked.clone().text());
      return part as { id: string; part_number: string };
    }

    async function watchedPage(of: BrowserContext): Promise<Page> {
      const opened = await of.newPage();
      opened.on('pageerror', (error) => complaints.push(`page error: ${error.message}`));
      opened.on('console', (message) => {
        // A refused key answers 401 on purpose; the browser logs every non-2xx fetch.
        if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) complaints.push(`console: ${message.text()}`);
      });
      return opened;
    }

    /** The console's live region: where it says what happened (Uppy has status regions of its own). */
    const announcer = (on: Page) => on.locator('#announcer[role="status"][aria-live="polite"]');

    async function signIn(on: Page) {
      await on.goto(`${h.url}/console/`);
      // The key field has the focus on arrival; everything from here is typed.
      await on.getByLabel('API key').waitFor();
      assert.equal(await on.evaluate(() => document.activeElement?.id), 'api-key');
      await on.keyboard.type(key);
      await on.keyboard.press('Enter');
      await on.getByRole('navigation', { name: 'Sections' }).waitFor();
    }

    /** Every form control of the view has a label a screen reader reads out. */
    async function assertLabelled(on: Page, view: string) {
      const unlabelled = await on.evaluate(() =>
        [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea, main button')]
          .filter((el) => el.closest('.uppy-Root') === null)
          .filter((el) => {
            const control = el as HTMLInputElement;
            const named = control.labels?.length || control.getAttribute('aria-label') || control.getAttribute('aria-labelledby');
            return !named && !(el.tagName === 'BUTTON' && el.textContent?.trim());
          })
          .map((el) => el.outerHTML.slice(0, 120)),
      );
      assert.deepEqual(unlabelled, [], `unlabelled controls on ${view}`);
    }

    async function assertNoSidewaysScroll(on: Page, view: string) {
      const widths = await on.evaluate(() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth }));
      assert.ok(widths.scroll <= widths.viewport, `${view} scrolls sideways: ${widths.scroll} px of content in ${widths.viewport} px`);
    }

    it('serves the console with a strict policy and cache headers, outside the API document', async () => {
      for (const route of ['/console', '/console/']) {
        const answer = await fetch(h.url + route);
        assert.equal(answer.status, 200, route);
        assert.match(answer.headers.get('content-type') ?? '', /^text\/html/);
        assert.equal(answer.headers.get('cache-control'), 'no-cache');
        const policy = answer.headers.get('content-security-policy') ?? '';
        assert.match(policy, /(^|; )script-src 'self' 'wasm-unsafe-eval'(;|$)/, 'no inline script, no eval: only WebAssembly');
        assert.doesNotMatch(policy, /'unsafe-inline'|'unsafe-eval'/);
        assert.match(policy, /(^|; )style-src 'self'( 'sha256-[^']+')*(;|$)/, 'styles: files and the hashed ones of model-viewer');
        assert.match(policy, /frame-ancestors 'none'/);
        const html = await answer.text();
        assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script is a file');
        const script = /<script type="module" src="([^"]+)"/.exec(html)?.[1];
        assert.ok(script, 'index.html loads its script');
        const asset = await fetch(h.url + script);
        assert.equal(asset.status, 200);
        assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
        assert.match(asset.headers.get('content-type') ?? '', /javascript/);
      }
      const missing = await fetch(`${h.url}/console/assets/nothing-here.js`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
      const outside = await fetch(`${h.url}/console/%2e%2e/%2e%2e/package.json`);
      assert.ok(outside.status === 403 || outside.status === 404, `a file outside the bundle answered ${outside.status}`);
      const document = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      assert.deepEqual(
        Object.keys(document.paths).filter((p) => p.startsWith('/console')),
        [],
      );
    });

    it('answers a clear 503 while the bundle is not built', async () => {
      const empty = await mkdtemp(path.join(os.tmpdir(), 'stowage-console-'));
      const app = Fastify();
      try {
        installErrorHandling(app);
        await app.register((scope) => consoleRoutes(scope, { dir: empty, policy: () => "default-src 'none'" }));
        for (const url of ['/console', '/console/', '/console/assets/main.js']) {
          const answer = await app.inject({ url });
          assert.equal(answer.statusCode, 503, url);
          const body = answer.json() as { error: { code: string; message: string } };
          assert.equal(body.error.code, 'unavailable');
          assert.match(body.error.message, /npm run build/);
        }
      } finally {
        await app.close();
        await rm(empty, { recursive: true, force: true });
      }
    });

    it('signs in by keyboard: a wrong key shows the API error, the right one stays in this tab only', async () => {
      await page.goto(`${h.url}/console/`);
      await page.getByLabel('API key').waitFor();
      await assertLabelled(page, 'sign-in');
      await page.keyboard.type('stw_000000000000_not-a-real-key');
      await page.keyboard.press('Enter');
      const alert = page.getByRole('alert');
      await alert.getByText('Sign-in failed').waitFor();
      assert.match(await alert.innerText(), /missing, malformed or revoked API key/);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'api-key', 'the focus goes back to the key');

      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type(key);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Uploads' }).waitFor();
      const stored = await page.evaluate(() => ({
        session: sessionStorage.getItem('stowage.apiKey'),
        local: JSON.stringify({ ...localStorage }),
        cookies: document.cookie,
      }));
      assert.equal(stored.session, key);
      assert.ok(!stored.local.includes(key), 'the key is not in localStorage');
      assert.equal(stored.cookies, '');

      // Sign out forgets it; signing back in is the same keyboard walk.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API key').waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem('stowage.apiKey')), null);
      await page.keyboard.type(key);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Uploads' }).waitFor();
      await assertLabelled(page, 'uploads');
    });

    it('a 20 MiB file dropped on the Dashboard goes up by tus and reaches confirmed in the uploads list', async () => {
      const bytes = randomBytes(20 * 1024 * 1024);
      const name = 'site-survey.bin';
      // From a file on disk: the browser reads it itself, as it would a file a person drops.
      const file = path.join(scratch, name);
      await writeFile(file, bytes);
      await page.goto(`${h.url}/console/#/uploads`);
      const input = page.locator('.uppy-Dashboard-input').first();
      await input.waitFor({ state: 'attached' });
      await input.setInputFiles(file);
      await page.getByRole('button', { name: /^Upload 1 file/ }).click();
      const row = page.locator('.rows li', { hasText: name });
      // Whichever comes first: the confirmed row, or the console saying the upload failed (then fail at once).
      const failed = announcer(page).getByText(`${name}: the upload failed`);
      await row
        .locator('.badge', { hasText: /^confirmed$/ })
        .or(failed)
        .waitFor({ timeout: 60_000 });
      assert.equal(await failed.count(), 0, await announcer(page).innerText());
      await page.screenshot({ path: path.join(ARTIFACTS, 'uploads-desktop.png') });

      const listed = await api('GET', '/api/v1/uploads?limit=50');
      const upload = listed.data.find((u: { name: string }) => u.name === name);
      assert.ok(upload, 'the upload is listed by the API');
      assert.equal(upload.status, 'confirmed');
      assert.equal(upload.size_bytes, bytes.length);
      assert.equal(upload.sha256, createHash('sha256').update(bytes).digest('hex'), 'the bytes arrived whole');
      await announcer(page).getByText(`${name}: confirmed`).waitFor();
    });

    it("opens a STEP part's 3D preview in model-viewer", async () => {
      const part = await stepPart;
      await page.goto(`${h.url}/console/#/parts`);
      await page.getByRole('link', { name: part.part_number }).click();
      await page.getByRole('heading', { level: 1, name: part.part_number }).waitFor();
      await page.getByText('as1_pe_203.stp').waitFor();
      // pending while the preview job converts, then model-viewer fetches the GLB and draws it.
      await page.locator('#preview[data-state="loaded"]').waitFor({ timeout: 90_000 });
      const viewer = page.locator('model-viewer');
      assert.equal(await viewer.evaluate((el) => (el as HTMLElement & { loaded: boolean }).loaded), true);
      assert.match((await viewer.getAttribute('alt')) ?? '', new RegExp(`3D preview of ${part.part_number}`));
      await assertLabelled(page, 'part');
      await page.screenshot({ path: path.join(ARTIFACTS, 'part-preview-desktop.png') });
    });

    it('shows a file with its versions, deletes it to the trash and recovers it', async () => {
      const folder = await api('POST', '/api/v1/folders', { name: `Reports ${++serial}` });
      const text = 'quarterly numbers\n';
      const created = await api('POST', '/api/v1/files', {
        filename: 'notes.txt',
        content_type: 'text/plain',
        size: Buffer.byteLength(text),
        folder_id: folder.id,
      });
      const sent = await h.api('POST', `/api/v1/files/${created.id}/content`, {
        key,
        body: text,
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const tip = sent.body;
      await api('PUT', `/api/v1/files/${created.id}`, { expect_tip: tip.cid, note: 'checked', properties: { reviewed: true } });

      await page.goto(`${h.url}/console/#/files`);
      await page.getByRole('link', { name: folder.name }).click();
      await page.getByRole('navigation', { name: 'Folder path' }).getByText(folder.name).waitFor();
      await page.getByRole('link', { name: 'Versions of notes.txt' }).click();
      await page.getByRole('heading', { level: 1, name: 'notes.txt' }).waitFor();
      await page.getByText('Version 2').waitFor();
      await page.getByText('Version 1').waitFor();
      await page.getByText('“checked”').waitFor();
      await assertLabelled(page, 'file');

      const [version1] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download version 1 of notes.txt' }).click(),
      ]);
      assert.equal(version1.suggestedFilename(), 'notes.txt');
      assert.equal(await readFile((await version1.path()) ?? '', 'utf8'), text, 'the bytes of version 1');

      await page.goBack();
      await page.getByRole('button', { name: 'Delete notes.txt' }).click();
      await announcer(page).getByText('notes.txt: moved to the trash.').waitFor();
      await page.getByText('No files here.').waitFor();
      assert.ok((await api('GET', `/api/v1/files/${created.id}`)).deleted_at, 'the API has it in the trash');

      await page.getByRole('link', { name: 'Trash' }).click();
      await page.getByRole('heading', { level: 1, name: 'Trash' }).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'trash-desktop.png') });
      await page.getByRole('button', { name: 'Recover notes.txt' }).click();
      await announcer(page).getByText('notes.txt: recovered from the trash.').waitFor();
      await page.getByText('The trash is empty.').waitFor();
      assert.equal((await api('GET', `/api/v1/files/${created.id}`)).deleted_at, null, 'the API has it back');
      await page.goto(`${h.url}/console/#/files?folder=${folder.id}`);
      await page.getByRole('link', { name: 'Versions of notes.txt' }).waitFor();
    });

    it('cancels a pending upload from the filtered list, and finds words through search', async () => {
      const pending = await api('POST', '/api/v1/uploads/presign', { name: `waiting-${++serial}.csv`, content_type: 'text/csv' });
      await page.goto(`${h.url}/console/#/uploads`);
      await page.getByLabel('Status').selectOption('pending');
      await page.waitForURL(/status=pending/);
      const row = page.locator('.rows li', { hasText: `waiting-${serial}.csv` });
      await row.getByRole('button', { name: `Cancel waiting-${serial}.csv` }).click();
      await announcer(page).getByText(`waiting-${serial}.csv: cancelled.`).waitFor();
      await eventually(
        async () => ((await api('GET', `/api/v1/uploads/${pending.data_source_id}`)).status === 'cancelled' ? true : undefined),
        'the upload to be cancelled',
      );

      await page.goto(`${h.url}/console/#/search`);
      await page.getByLabel('Words to find').fill('quarterly');
      await page.keyboard.press('Enter');
      await page
        .locator('.snippet mark', { hasText: /quarterly/i })
        .first()
        .waitFor({ timeout: 30_000 });
      await assertLabelled(page, 'search');
    });

    it('works on a phone-sized viewport: no main view scrolls sideways', async () => {
      const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      try {
        const small = await watchedPage(phone);
        await signIn(small);
        const parts = await api('GET', '/api/v1/parts/?limit=1');
        const views = ['uploads', 'files', 'files?trash=1', 'parts', `part?id=${parts.data[0].id}`, 'readings', 'search?q=quarterly'];
        for (const view of views) {
          await small.goto(`${h.url}/console/#/${view}`);
          await small.locator('main h1').waitFor();
          await small
            .locator('main [aria-busy="true"]')
            .waitFor({ state: 'detached' })
            .catch(() => {});
          await small.waitForLoadState('networkidle');
          await assertNoSidewaysScroll(small, view);
        }
        await small.goto(`${h.url}/console/#/uploads`);
        await small.locator('.uppy-Dashboard').waitFor();
        await small.screenshot({ path: path.join(ARTIFACTS, 'uploads-phone.png'), fullPage: true });
      } finally {
        await phone.close();
      }
    });

    it('the pages raised no script error and no refusal of their own policy', () => {
      assert.deepEqual(complaints, []);
    });
  });
});
