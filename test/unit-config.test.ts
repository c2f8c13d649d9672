/**
 * The environment a Stowage process is configured by (loadConfig): what runs with no configuration at
 * all, how each variable is read, and that a value it cannot use stops the start with a message
 * naming the variable — not a default quietly used instead, nor a failure later in some module.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type Config, ConfigError, loadConfig } from '../src/config.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const GIB = 1024 ** 3;
const S3_ENV = { STORAGE_DRIVER: 's3', S3_BUCKET: 'stowage', S3_ACCESS_KEY_ID: 'AKIA', S3_SECRET_ACCESS_KEY: 'secret' };

/** The ConfigError message for an environment, which must be refused. */
function refusedWith(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError, not ${String(error)}`);
    return error.message;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}

describe('loadConfig with no environment', { skip: firstPassOnly }, () => {
  const config = loadConfig({});

  it('runs one machine: local storage under ./data, the embedded PostgreSQL, a generated signing secret', () => {
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1', 'not reachable from other machines until told');
    assert.equal(config.dataDir, path.resolve('data'));
    assert.equal(config.databaseUrl, null);
    assert.equal(config.publicUrl, null);
    assert.equal(config.signingSecret, null);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.storageDriver, 'local');
    assert.equal(config.s3, null);
  });

  it('has the limits SPEC states: 5 GiB per presigned PUT, 250 GiB multipart, 512 MiB streamed, 100 per batch', () => {
    assert.deepEqual(config.limits, {
      singleRequestBytes: 5 * GIB,
      multipartBytes: 250 * GIB,
      simpleUploadBytes: 512 * 1024 ** 2,
      presignTtlSeconds: 3600,
      downloadTtlSeconds: 300,
      pendingTtlSeconds: 24 * 3600,
      batchMax: 100,
    });
  });

  it('has the documented timeouts, rate limits, job, sweeper and preview settings', () => {
    assert.deepEqual(config.http, {
      headersTimeoutMs: 30_000,
      idleTimeoutMs: 60_000,
      keepAliveTimeoutMs: 72_000,
      requestTimeoutMs: 24 * 3600 * 1000,
      shutdownGraceMs: 10_000,
    });
    assert.deepEqual(config.rateLimit, { enabled: true, perKey: 600, perOrg: 3000, windowSeconds: 60 });
    assert.deepEqual(config.jobs, {
      concurrency: 2,
      retryLimit: 5,
      retryDelaySeconds: 2,
      leaseSeconds: 300,
      maintenanceIntervalSeconds: 30,
      pollingIntervalSeconds: 1,
    });
    assert.deepEqual(config.sweeper, {
      cron: '*/5 * * * *',
      graceSeconds: 3 * 24 * 3600,
      batch: 500,
      trashRetentionSeconds: 30 * 24 * 3600,
    });
    assert.deepEqual(config.previews, { timeoutSeconds: 120, maxMemoryMb: 2048 });
    assert.equal(config.databasePoolMax, 20);
    assert.deepEqual(config.corsOrigins, ['*']);
    assert.ok(config.refusedContentTypes.includes('application/x-msdownload'), 'Windows executables are refused by default');
    assert.ok(config.refusedContentTypes.includes('application/x-elf'), 'Linux executables are refused by default');
  });

  it('is frozen all the way down: no module can change what another reads', () => {
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.limits as { multipartBytes: number }).multipartBytes = 1;
    }, TypeError);
    assert.throws(() => (config.corsOrigins as string[]).push('https://evil.example'), TypeError);
  });

  it('treats a variable set to blanks as unset', () => {
    assert.deepEqual(loadConfig({ PORT: '', HOST: '  ', STOWAGE_WORKER_CONCURRENCY: ' ', PUBLIC_URL: '' }), config);
  });
});

describe('loadConfig reads each variable', { skip: firstPassOnly }, () => {
  const cases: [string, string, (c: Config) => unknown, unknown][] = [
    ['PORT', '9000', (c) => c.port, 9000],
    ['PORT', '0', (c) => c.port, 0],
    ['PORT', ' 9000 ', (c) => c.port, 9000],
    ['HOST', '0.0.0.0', (c) => c.host, '0.0.0.0'],
    ['STOWAGE_DATA_DIR', '/var/lib/stowage', (c) => c.dataDir, '/var/lib/stowage'],
    ['STOWAGE_DATA_DIR', 'relative/dir', (c) => c.dataDir, path.resolve('relative/dir')],
    ['DATABASE_URL', 'postgres://db.example/stowage', (c) => c.databaseUrl, 'postgres://db.example/stowage'],
    ['PUBLIC_URL', 'https://files.example.com/', (c) => c.publicUrl, 'https://files.example.com'],
    ['PUBLIC_URL', 'https://example.com/stowage//', (c) => c.publicUrl, 'https://example.com/stowage'],
    ['STOWAGE_SIGNING_SECRET', 'shh', (c) => c.signingSecret, 'shh'],
    ['LOG_LEVEL', 'debug', (c) => c.logLevel, 'debug'],
    ['STORAGE_DRIVER', 'local', (c) => c.storageDriver, 'local'],
    ['STOWAGE_SINGLE_REQUEST_MAX_BYTES', String(GIB), (c) => c.limits.singleRequestBytes, GIB],
    ['STOWAGE_MULTIPART_MAX_BYTES', String(10 * GIB), (c) => c.limits.multipartBytes, 10 * GIB],
    ['STOWAGE_SIMPLE_UPLOAD_MAX_BYTES', '1048576', (c) => c.limits.simpleUploadBytes, 1048576],
    ['STOWAGE_PRESIGN_TTL_SECONDS', '600', (c) => c.limits.presignTtlSeconds, 600],
    ['STOWAGE_DOWNLOAD_TTL_SECONDS', '60', (c) => c.limits.downloadTtlSeconds, 60],
    ['STOWAGE_PENDING_TTL_SECONDS', '7200', (c) => c.limits.pendingTtlSeconds, 7200],
    ['STOWAGE_HTTP_HEADERS_TIMEOUT_SECONDS', '10', (c) => c.http.headersTimeoutMs, 10_000],
    ['STOWAGE_HTTP_IDLE_TIMEOUT_SECONDS', '0.5', (c) => c.http.idleTimeoutMs, 500],
    ['STOWAGE_HTTP_KEEP_ALIVE_SECONDS', '5', (c) => c.http.keepAliveTimeoutMs, 5000],
    ['STOWAGE_HTTP_REQUEST_TIMEOUT_SECONDS', '0', (c) => c.http.requestTimeoutMs, 0],
    ['STOWAGE_SHUTDOWN_GRACE_SECONDS', '2.5', (c) => c.http.shutdownGraceMs, 2500],
    ['RATE_LIMIT_ENABLED', 'false', (c) => c.rateLimit.enabled, false],
    ['RATE_LIMIT_ENABLED', 'OFF', (c) => c.rateLimit.enabled, false],
    ['RATE_LIMIT_ENABLED', '0', (c) => c.rateLimit.enabled, false],
    ['RATE_LIMIT_ENABLED', 'Yes', (c) => c.rateLimit.enabled, true],
    ['RATE_LIMIT_PER_KEY', '10', (c) => c.rateLimit.perKey, 10],
    ['DATABASE_POOL_MAX', '8', (c) => c.databasePoolMax, 8],
    ['RATE_LIMIT_PER_ORG', '20', (c) => c.rateLimit.perOrg, 20],
    ['RATE_LIMIT_WINDOW_SECONDS', '1', (c) => c.rateLimit.windowSeconds, 1],
    ['STOWAGE_WORKER_CONCURRENCY', '64', (c) => c.jobs.concurrency, 64],
    ['STOWAGE_JOB_RETRY_LIMIT', '0', (c) => c.jobs.retryLimit, 0],
    ['STOWAGE_JOB_RETRY_DELAY_SECONDS', '7', (c) => c.jobs.retryDelaySeconds, 7],
    ['STOWAGE_JOB_LEASE_SECONDS', '60', (c) => c.jobs.leaseSeconds, 60],
    ['STOWAGE_JOB_MAINTENANCE_SECONDS', '5', (c) => c.jobs.maintenanceIntervalSeconds, 5],
    ['STOWAGE_JOB_POLL_SECONDS', '0.5', (c) => c.jobs.pollingIntervalSeconds, 0.5],
    ['STOWAGE_SWEEP_CRON', '0 * * * *', (c) => c.sweeper.cron, '0 * * * *'],
    ['STOWAGE_SWEEP_GRACE_SECONDS', '0', (c) => c.sweeper.graceSeconds, 0],
    ['STOWAGE_SWEEP_BATCH', '10', (c) => c.sweeper.batch, 10],
    ['STOWAGE_TRASH_RETENTION_DAYS', '7', (c) => c.sweeper.trashRetentionSeconds, 7 * 24 * 3600],
    ['STOWAGE_PREVIEW_TIMEOUT_SECONDS', '30', (c) => c.previews.timeoutSeconds, 30],
    ['STOWAGE_PREVIEW_MAX_MEMORY_MB', '128', (c) => c.previews.maxMemoryMb, 128],
    ['CORS_ORIGINS', 'https://a.example, https://B.example,', (c) => c.corsOrigins, ['https://a.example', 'https://b.example']],
    ['CORS_ORIGINS', '', (c) => c.corsOrigins, []],
    [
      'STOWAGE_REFUSED_CONTENT_TYPES',
      'Application/X-Msdownload,image/*',
      (c) => c.refusedContentTypes,
      ['application/x-msdownload', 'image/*'],
    ],
    ['STOWAGE_REFUSED_CONTENT_TYPES', '', (c) => c.refusedContentTypes, []],
  ];
  for (const [name, raw, get, expected] of cases) {
    it(`${name}=${JSON.stringify(raw)}`, () => assert.deepEqual(get(loadConfig({ [name]: raw })), expected));
  }

  it('S3 settings when STORAGE_DRIVER=s3, with region us-east-1 and virtual-host addressing unless told', () => {
    assert.deepEqual(loadConfig(S3_ENV).s3, {
      endpoint: null,
      region: 'us-east-1',
      bucket: 'stowage',
      accessKeyId: 'AKIA',
      secretAccessKey: 'secret',
      forcePathStyle: false,
    });
    const custom = loadConfig({ ...S3_ENV, S3_ENDPOINT: 'http://127.0.0.1:7480/', S3_REGION: 'eu-west-1', S3_FORCE_PATH_STYLE: 'true' });
    assert.equal(custom.s3?.endpoint, 'http://127.0.0.1:7480');
    assert.equal(custom.s3?.region, 'eu-west-1');
    assert.equal(custom.s3?.forcePathStyle, true);
  });

  it('ignores the S3 variables with the local driver', () => {
    assert.equal(loadConfig({ S3_BUCKET: 'stowage', S3_ENDPOINT: 'not a url' }).s3, null);
  });
});

describe('loadConfig refuses what it cannot use, naming the variable and the value', { skip: firstPassOnly }, () => {
  const refused: [string, string][] = [
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['PORT', 'http'],
    ['PORT', '8080abc'],
    ['PORT', 'Infinity'],
    ['PUBLIC_URL', 'files.example.com'],
    ['PUBLIC_URL', 'https://'],
    ['STORAGE_DRIVER', 'gcs'],
    ['RATE_LIMIT_ENABLED', 'maybe'],
    ['STOWAGE_SINGLE_REQUEST_MAX_BYTES', '0'],
    ['STOWAGE_MULTIPART_MAX_BYTES', '-1'],
    ['STOWAGE_SIMPLE_UPLOAD_MAX_BYTES', '512MiB'],
    ['STOWAGE_PRESIGN_TTL_SECONDS', '0'],
    ['STOWAGE_DOWNLOAD_TTL_SECONDS', '1.5'],
    ['STOWAGE_PENDING_TTL_SECONDS', 'NaN'],
    ['STOWAGE_HTTP_HEADERS_TIMEOUT_SECONDS', '0'],
    ['STOWAGE_HTTP_IDLE_TIMEOUT_SECONDS', '0'],
    ['STOWAGE_HTTP_KEEP_ALIVE_SECONDS', '-5'],
    ['STOWAGE_HTTP_REQUEST_TIMEOUT_SECONDS', '-1'],
    ['STOWAGE_SHUTDOWN_GRACE_SECONDS', '0'],
    ['RATE_LIMIT_PER_KEY', '0'],
    ['DATABASE_POOL_MAX', '0'],
    ['DATABASE_POOL_MAX', 'lots'],
    ['RATE_LIMIT_PER_ORG', 'many'],
    ['RATE_LIMIT_WINDOW_SECONDS', '0'],
    ['STOWAGE_WORKER_CONCURRENCY', '0'],
    ['STOWAGE_WORKER_CONCURRENCY', '65'],
    ['STOWAGE_JOB_RETRY_LIMIT', '-1'],
    ['STOWAGE_JOB_RETRY_DELAY_SECONDS', '0'],
    ['STOWAGE_JOB_LEASE_SECONDS', '0'],
    ['STOWAGE_JOB_MAINTENANCE_SECONDS', '0'],
    ['STOWAGE_JOB_POLL_SECONDS', '0.1'],
    ['STOWAGE_SWEEP_GRACE_SECONDS', '-1'],
    ['STOWAGE_SWEEP_BATCH', '0'],
    ['STOWAGE_PREVIEW_TIMEOUT_SECONDS', '0'],
    ['STOWAGE_PREVIEW_MAX_MEMORY_MB', '64'],
  ];
  for (const [name, raw] of refused) {
    it(`${name}=${JSON.stringify(raw)}`, () => {
      const message = refusedWith({ [name]: raw });
      assert.match(message, new RegExp(`\\b${name}\\b`));
      // A fraction for a whole number is named by the rule it breaks rather than by its value.
      if (!message.includes('whole number')) assert.ok(message.toLowerCase().includes(`"${raw.toLowerCase()}"`), message);
    });
  }

  it('names every problem at once, so one restart fixes them all', () => {
    const message = refusedWith({ PORT: 'x', STOWAGE_WORKER_CONCURRENCY: '0', STORAGE_DRIVER: 'gcs' });
    for (const name of ['PORT', 'STOWAGE_WORKER_CONCURRENCY', 'STORAGE_DRIVER']) assert.match(message, new RegExp(name));
  });

  it('STORAGE_DRIVER=s3 needs a bucket and credentials: each missing one is named', () => {
    const message = refusedWith({ STORAGE_DRIVER: 's3' });
    for (const name of ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) assert.match(message, new RegExp(`${name} is required`));
    assert.match(refusedWith({ ...S3_ENV, S3_SECRET_ACCESS_KEY: ' ' }), /S3_SECRET_ACCESS_KEY is required/);
    assert.match(refusedWith({ ...S3_ENV, S3_ENDPOINT: '127.0.0.1:7480/x' }), /S3_ENDPOINT/);
    assert.match(refusedWith({ ...S3_ENV, S3_FORCE_PATH_STYLE: 'sometimes' }), /S3_FORCE_PATH_STYLE/);
  });
});

describe('loadConfig: values that parse but cannot work', { skip: firstPassOnly }, () => {
  // new URL() takes "localhost:8080" as a URL of scheme "localhost:", so a PUBLIC_URL without its
  // scheme is accepted and every absolute URL the server answers (signed URLs, Location) is broken.
  for (const [name, raw] of [
    ['PUBLIC_URL', 'localhost:8080'],
    ['PUBLIC_URL', 'ftp://files.example.com'],
    ['S3_ENDPOINT', 'minio:9000'],
  ] as const) {
    it(`${name}=${JSON.stringify(raw)} is refused: only http and https URLs work`, () => {
      const env: Record<string, string> = name === 'S3_ENDPOINT' ? { ...S3_ENV, [name]: raw } : { [name]: raw };
      assert.match(refusedWith(env), new RegExp(name));
    });
  }

  it('LOG_LEVEL=verbose is refused here, not by the logger when the server starts', () => {
    assert.match(refusedWith({ LOG_LEVEL: 'verbose' }), /LOG_LEVEL/);
  });

  it('STOWAGE_SWEEP_CRON that is not a cron expression is refused here', () => {
    assert.match(refusedWith({ STOWAGE_SWEEP_CRON: 'every five minutes' }), /STOWAGE_SWEEP_CRON/);
  });

  it("with the s3 driver, a single-request limit over S3's 5 GiB PUT is refused", () => {
    assert.match(refusedWith({ ...S3_ENV, STOWAGE_SINGLE_REQUEST_MAX_BYTES: String(5 * GIB + 1) }), /STOWAGE_SINGLE_REQUEST_MAX_BYTES/);
  });

  it('a multipart limit over 10,000 parts of 5 GiB is refused', () => {
    assert.match(refusedWith({ STOWAGE_MULTIPART_MAX_BYTES: String(10_000 * 5 * GIB + 1) }), /STOWAGE_MULTIPART_MAX_BYTES/);
  });
});
