import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { BlobUrlSigner } from '../../src/blobs/signed-url.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { runSweep } from '../../src/modules/sweeper/sweep-job.js';
import { createMetrics } from '../../src/metrics.js';
import { openBlobStore } from '../../src/runtime.js';
import { SIGNING_SECRET, freshDatabase } from './harness.js';
import { type SpawnedServer, spawnServer } from './spawned-server.js';

/**
 * kill -9 at random points of simple, presigned and multipart uploads, restart on the same data
 * folder and database, sweep: nothing the client saw confirmed is lost, nothing stays pending past
 * its expiry, no temp or part file and no blob without its row is left, no confirmed row lacks its blob.
 * Each test file runs a share of the kill runs (a file must finish within the runner's two minutes);
 * a failure replays with CRASH_SEED=<the seed that file printed>.
 */
const KILL_WINDOW_MS = 3000;
const MIB = 1024 * 1024;
const PART = 5 * MIB;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)));
}

/** mulberry32: a small seeded generator, so a failing sequence of kill points can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Random bytes that never sniff as a type the server refuses: one upload in ~65,000 started with
 * "MZ" (a Windows executable) and was refused with 415, failing a run that had nothing to do with it.
 * Every refused type's magic starts with a byte other than 0.
 */
function inertBytes(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes[0] = 0;
  return bytes;
}

interface Sent {
  flow: 'simple' | 'presigned' | 'multipart';
  sha256: string;
  size: number;
  /** The client was told the upload is confirmed. */
  confirmed: boolean;
}

export function describeKillRuns(share: string, runs: number): void {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`# crash-recovery ${share}: seed ${seed}, ${runs} kill runs (replay with CRASH_SEED=${seed})`);
  const random = seeded(seed);
  describe(
    `kill -9 during uploads, then restart and sweep (${share})`,
    {
      // The spawned servers use the local driver whatever the pass: the S3 pass would only repeat this run.
      skip: process.env.S3_TEST_ENDPOINT
        ? "kill -9 runs are about this server's own files (local driver); they run in the local pass"
        : false,
    },
    () => {
      const sent = new Map<string, Sent>();
      let dataDir: string;
      let database: { url: string; drop(): Promise<void> };
      let env: Record<string, string>;
      let key: string | null = null;
      let server: SpawnedServer | null = null;

      before(async () => {
        dataDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-crash-'));
        database = await freshDatabase();
        env = {
          STOWAGE_DATA_DIR: dataDir,
          DATABASE_URL: database.url,
          LOG_LEVEL: 'warn',
          STOWAGE_SIGNING_SECRET: SIGNING_SECRET,
          RATE_LIMIT_ENABLED: 'false',
          // A confirm attempt of a killed worker is retried soon after its lease runs out.
          STOWAGE_JOB_LEASE_SECONDS: '2',
          STOWAGE_JOB_POLL_SECONDS: '0.5',
          STOWAGE_JOB_MAINTENANCE_SECONDS: '1',
          STOWAGE_JOB_RETRY_DELAY_SECONDS: '1',
          // The test sweeps itself, with a clock moved past every expiry and grace period.
          STOWAGE_SWEEP_CRON: '0 0 1 1 *',
        };
      });
      after(async () => {
        if (server && server.child.exitCode === null) process.kill(server.child.pid!, 'SIGKILL');
        await server?.exited;
        await database?.drop();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
      });

      async function start(): Promise<SpawnedServer> {
        const started = await spawnServer(env, { readyTimeoutMs: 90_000 });
        key ??= started.adminKey;
        assert.ok(key, 'the first start printed the admin key');
        return started;
      }

      async function call(s: SpawnedServer, method: string, route: string, body?: unknown) {
        const response = await fetch(s.url + route, {
          method,
          headers: { 'x-api-key': key!, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await response.text();
        return { status: response.status, body: text ? JSON.parse(text) : null };
      }

      async function untilSettled(s: SpawnedServer, id: string, stop: () => boolean): Promise<void> {
        while (!stop()) {
          const upload = await call(s, 'GET', `/api/v1/uploads/${id}`);
          if (upload.body?.status === 'confirmed') return void (sent.get(id)!.confirmed = true);
          if (upload.body?.status !== 'pending') return;
          await new Promise((r) => setTimeout(r, 100));
        }
      }

      /** The three flows, each over and over until the server dies under it. */
      const flows = {
        async simple(s: SpawnedServer) {
          const bytes = inertBytes(1024 + Math.floor(random() * 512 * 1024));
          const form = new FormData();
          form.append('file', new Blob([new Uint8Array(bytes)]), 'simple.bin');
          const response = await fetch(`${s.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': key! }, body: form });
          const upload = await response.json();
          assert.equal(response.status, 201, JSON.stringify(upload));
          sent.set(upload.id, { flow: 'simple', sha256: sha256(bytes), size: bytes.length, confirmed: upload.status === 'confirmed' });
        },
        async presigned(s: SpawnedServer, stop: () => boolean) {
          const bytes = inertBytes(1024 + Math.floor(random() * MIB));
          const presigned = await call(s, 'POST', '/api/v1/uploads/presign', {
            name: 'presigned.bin',
            size_bytes: bytes.length,
            sha256: sha256(bytes),
          });
          assert.equal(presigned.status, 200, JSON.stringify(presigned.body));
          const id = presigned.body.data_source_id;
          sent.set(id, { flow: 'presigned', sha256: sha256(bytes), size: bytes.length, confirmed: false });
          const headers = Object.fromEntries(
            Object.entries(presigned.body.headers ?? {}).filter(([n]) => n.toLowerCase() !== 'content-length'),
          ) as Record<string, string>;
          const put = await fetch(presigned.body.url, { method: 'PUT', headers, body: new Uint8Array(bytes) });
          assert.equal(put.status, 200, await put.text());
          assert.equal((await call(s, 'POST', '/api/v1/uploads/confirm', { data_source_id: id })).status, 200);
          await untilSettled(s, id, stop);
        },
        async multipart(s: SpawnedServer, stop: () => boolean) {
          const bytes = inertBytes(PART + 1 + Math.floor(random() * 256 * 1024));
          const started = await call(s, 'POST', '/api/v1/uploads/multipart', {
            name: 'multipart.bin',
            size_bytes: bytes.length,
            part_size: PART,
            sha256: sha256(bytes),
          });
          assert.equal(started.status, 200, JSON.stringify(started.body));
          const id = started.body.data_source_id;
          sent.set(id, { flow: 'multipart', sha256: sha256(bytes), size: bytes.length, confirmed: false });
          const urls = (await call(s, 'POST', `/api/v1/uploads/${id}/parts`, { part_numbers: [1, 2] })).body.parts;
          const etags = await Promise.all(
            urls.map(async (part: { url: string; headers: Record<string, string> }, i: number) => {
              const answer = await fetch(part.url, { method: 'PUT', body: new Uint8Array(bytes.subarray(i * PART, (i + 1) * PART)) });
              assert.equal(answer.status, 200, await answer.text());
              return answer.headers.get('etag')!.replace(/"/g, '');
            }),
          );
          const completed = await call(s, 'POST', `/api/v1/uploads/${id}/complete`, {
            parts: etags.map((etag, i) => ({ part_number: i + 1, etag })),
          });
          assert.equal(completed.status, 200, JSON.stringify(completed.body));
          await untilSettled(s, id, stop);
        },
      };

      async function killRun(run: number): Promise<void> {
        const s = await start();
        let dead = false;
        const stop = () => dead;
        const loops = Object.entries(flows).map(async ([name, flow]) => {
          while (!dead) {
            try {
              await flow(s, stop);
            } catch (error) {
              // The kill cuts requests off; anything else is a failure of the flow itself.
              if (!dead)
                throw new Error(`${name} flow failed with the server alive (run ${run}): ${(error as Error).message}`, { cause: error });
            }
          }
        });
        const killAfter = Math.floor(random() * KILL_WINDOW_MS);
        await new Promise((r) => setTimeout(r, killAfter));
        dead = true;
        process.kill(s.child.pid!, 'SIGKILL');
        await s.exited;
        const failed = (await Promise.allSettled(loops)).find((outcome) => outcome.status === 'rejected');
        if (failed) throw failed.reason;
      }

      it(`survives ${runs} kill runs`, async () => {
        for (let run = 0; run < runs; run++) await killRun(run);
      });

      it('after a restart keeps every upload it confirmed, with its bytes', async () => {
        server = await start();
        const s = server;
        const confirmed = [...sent.entries()].filter(([, upload]) => upload.confirmed);
        assert.ok(confirmed.length > 0, 'some uploads were confirmed before their kill');
        for (const [id, upload] of confirmed) {
          const row = await call(s, 'GET', `/api/v1/uploads/${id}`);
          assert.equal(row.body.status, 'confirmed', `${upload.flow} upload ${id}`);
          assert.equal(row.body.sha256, upload.sha256);
          const link = await call(s, 'GET', `/api/v1/uploads/${id}/download-url`);
          const bytes = Buffer.from(await (await fetch(link.body.url)).arrayBuffer());
          assert.equal(sha256(bytes), upload.sha256, `the bytes of ${upload.flow} upload ${id}`);
        }
        // Confirms left running by a killed worker are taken up again once their lease has run out.
        const handle = openDatabase(database.url, { max: 1 });
        const { db } = handle;
        try {
          const deadline = Date.now() + 60_000;
          for (;;) {
            const open = await db
              .selectFrom('jobs')
              .select(db.fn.countAll<string>().as('n'))
              .where('kind', '=', 'confirm')
              .where('status', 'in', ['queued', 'running'])
              .executeTakeFirstOrThrow();
            if (Number(open.n) === 0) break;
            assert.ok(Date.now() < deadline, `${open.n} confirm jobs still open a minute after the restart`);
            await new Promise((r) => setTimeout(r, 250));
          }
        } finally {
          await handle.close();
        }
        process.kill(s.child.pid!, 'SIGTERM');
        assert.equal((await s.exited).code, 0);
      });

      it('after the sweep leaves no pending upload past its expiry, no temp or part file, no blob without its row and no row without its blob', async () => {
        const config = loadConfig({ ...env, PORT: '0' });
        const handle = openDatabase(database.url, { max: 2 });
        const blobs = await openBlobStore(config, new BlobUrlSigner(SIGNING_SECRET));
        const deps = { db: handle.db, blobs, config, metrics: createMetrics(), log: pino({ level: 'silent' }) };
        try {
          // Sweeps a day past every pending upload's expiry, then past the grace period of what that
          // failed; at each clock until a run finds nothing more (a run walks storage from where the last stopped).
          const expired = new Date(Date.now() + (config.limits.pendingTtlSeconds + 86_400) * 1000);
          const reports: unknown[] = [];
          for (const at of [expired, new Date(expired.getTime() + (config.sweeper.graceSeconds + 86_400) * 1000)]) {
            for (let i = 0; i < 5; i++) {
              const report = await runSweep(deps, at);
              reports.push(report);
              if (Object.values(report).every((n) => n === 0)) break;
            }
          }
          console.log(`# crash-recovery ${share}: sweeps ${JSON.stringify(reports)}`);

          const rows = await handle.db.selectFrom('uploads').select(['id', 'status', 'blob_key', 'size_bytes', 'expires_at']).execute();
          const pending = rows.filter((row) => row.status === 'pending');
          assert.deepEqual(
            pending.map((row) => row.id),
            [],
            'no upload still pending',
          );
          for (const [id, upload] of sent) {
            if (upload.confirmed) assert.equal(rows.find((row) => row.id === id)?.status, 'confirmed', `${upload.flow} upload ${id}`);
          }
          const confirmedKeys = new Set<string>();
          for (const row of rows.filter((r) => r.status === 'confirmed')) {
            const info = await blobs.stat(row.blob_key);
            assert.ok(info, `confirmed upload ${row.id} has its blob`);
            assert.equal(info.size, Number(row.size_bytes));
            confirmedKeys.add(row.blob_key);
          }
          const listed = await blobs.list({ after: '', limit: 10_000 });
          assert.deepEqual(
            listed.map((b) => b.key).filter((k) => !confirmedKeys.has(k)),
            [],
            'no blob without a confirmed row',
          );
          const root = path.join(dataDir, 'blobs');
          assert.deepEqual(await filesUnder(path.join(root, '.tmp')), [], 'no temp file');
          assert.deepEqual(await filesUnder(path.join(root, '.multipart')), [], 'no part file');
          const flows = new Set([...sent.values()].filter((u) => u.confirmed).map((u) => u.flow));
          console.log(
            `# crash-recovery ${share}: ${sent.size} uploads begun, ${[...sent.values()].filter((u) => u.confirmed).length} confirmed (${[...flows].join(', ')}), ${rows.length} rows`,
          );
        } finally {
          await handle.close();
        }
      });
    },
  );
}
