import path from 'node:path';
import { STORAGE_LIMITS } from './storage-limits.js';

/** Where the s3 blob driver keeps blobs and how it reaches them. */
export interface S3Settings {
  endpoint: string | null;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /**
   * Milliseconds to connect, and that a connection may stay silent mid-request, before the request
   * fails (and is retried): without them a storage host that stops answering hangs requests and jobs.
   */
  timeouts?: { connectMs: number; idleMs: number };
}

/** Everything the process can be told through its environment, parsed once and frozen. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** null: use the embedded PostgreSQL under `<dataDir>/pg`. */
  readonly databaseUrl: string | null;
  /**
   * Connections this process's pool opens at most (the job queue adds 4 and the wake-up listener 1):
   * every process of a cluster counts against PostgreSQL's max_connections.
   */
  readonly databasePoolMax: number;
  /** null: rate-limit counters are shared through PostgreSQL; set, through this Redis. */
  readonly redisUrl: string | null;
  /** null: derive absolute URLs from the request's Host header. */
  readonly publicUrl: string | null;
  /** null: generated on first start and kept in `<dataDir>/signing.secret`. */
  readonly signingSecret: string | null;
  readonly logLevel: string;
  readonly storageDriver: 'local' | 's3';
  /** Set when storageDriver is 's3'. */
  readonly s3: S3Settings | null;
  readonly limits: {
    /** Largest declared size a single presigned PUT accepts; above it the multipart flow is required. */
    readonly singleRequestBytes: number;
    /** Largest declared size of a direct multipart upload. */
    readonly multipartBytes: number;
    /** Largest file the streamed simple upload (POST /api/v1/uploads) takes. */
    readonly simpleUploadBytes: number;
    readonly presignTtlSeconds: number;
    readonly downloadTtlSeconds: number;
    /** How long a pending upload may wait for its bytes before the sweeper fails it. */
    readonly pendingTtlSeconds: number;
    readonly batchMax: number;
  };
  /**
   * How long the HTTP server waits on a client. Bodies are bounded by inactivity, not by total time:
   * a 5 GiB upload over a slow but moving link must finish, a stalled one must not hold its socket.
   */
  readonly http: {
    /** From connection (or the end of the previous request) to the complete request head. */
    readonly headersTimeoutMs: number;
    /** No byte moving either way while the client is expected to send or read: the socket is closed. */
    readonly idleTimeoutMs: number;
    /** Idle keep-alive connection between requests. */
    readonly keepAliveTimeoutMs: number;
    /** Whole request (head and body) received; 0 for no limit. Only a backstop against trickling clients. */
    readonly requestTimeoutMs: number;
    /** Time a shutdown gives in-flight requests and jobs before it cuts them off. */
    readonly shutdownGraceMs: number;
  };
  readonly rateLimit: {
    readonly enabled: boolean;
    readonly perKey: number;
    readonly perOrg: number;
    readonly windowSeconds: number;
  };
  readonly jobs: {
    readonly concurrency: number;
    readonly retryLimit: number;
    readonly retryDelaySeconds: number;
    /** Floor of a confirm attempt's lease; a worker that dies mid-job frees it after this. */
    readonly leaseSeconds: number;
    readonly maintenanceIntervalSeconds: number;
    readonly pollingIntervalSeconds: number;
  };
  readonly sweeper: {
    /** Cron (pg-boss, minute resolution) of the sweep job. */
    readonly cron: string;
    /** How long blobs of cancelled/failed uploads, orphans and leftovers are kept before removal. */
    readonly graceSeconds: number;
    /** Most items of each kind one run handles: a large backlog drains over several runs. */
    readonly batch: number;
    /** How long deleted files and uploads stay in the trash, recoverable, before the sweeper purges them. */
    readonly trashRetentionSeconds: number;
  };
  readonly previews: {
    /** Wall-clock limit of one CAD → GLB conversion; past it that preview fails with `timeout`. */
    readonly timeoutSeconds: number;
    /** Resident memory limit of the converter process; past it that preview fails with `memory_limit`. */
    readonly maxMemoryMb: number;
  };
  readonly readings: {
    /** Wall-clock limit of one extraction; past it that reading fails with `timeout`. */
    readonly timeoutSeconds: number;
    /** Resident memory limit of the extractor process (native libraries included); past it the reading fails with `memory_limit`. */
    readonly maxMemoryMb: number;
    /** Larger uploads are not read (their reading fails `too_large` at once): copying them out to read them would cost more than the reading is worth. */
    readonly maxInputBytes: number;
  };
  readonly webhooks: {
    /** Targets on private, loopback and link-local addresses are refused unless this is set (tests, closed networks). */
    readonly allowPrivateTargets: boolean;
    /** Connect plus answer, per attempt; a receiver slower than this has failed the attempt. */
    readonly timeoutSeconds: number;
    /** How long a claimed delivery is held by its sender; must outlast the timeout, or a slow answer is sent twice. */
    readonly leaseSeconds: number;
    /** Delay before each attempt, the first one included; past the last one a delivery is dead-lettered. */
    readonly retryScheduleSeconds: readonly number[];
    /** An endpoint whose every attempt has failed for this long is disabled. */
    readonly disableAfterSeconds: number;
    /** Deliveries one worker process sends at once. */
    readonly concurrency: number;
    /** After a secret rotation, deliveries are signed with the old secret too for this long. */
    readonly previousSecretSeconds: number;
    /** Events (and their deliveries) older than this are removed, unless a delivery is still pending. */
    readonly retentionSeconds: number;
  };
  /** MIME types (exact or `type/*`) the confirm job refuses with `type_refused`. */
  readonly refusedContentTypes: readonly string[];
  /** Origins browsers may call the API and the signed blob URLs from: ['*'] for any, [] for none. */
  readonly corsOrigins: readonly string[];
}

export class ConfigError extends Error {}

/** What a sender needs after a webhook's answer to record it, within its lease. */
const WEBHOOK_SETTLE_SECONDS = 5;

const DEFAULT_REFUSED_TYPES = ['application/x-msdownload', 'application/x-elf', 'application/x-mach-binary', 'application/x-executable'];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const read = new EnvReader(env);
  const port = read.int('PORT', 8080, 0, 65535);
  const config: Mutable<Config> = {
    port,
    host: read.str('HOST', '127.0.0.1'),
    dataDir: path.resolve(read.str('STOWAGE_DATA_DIR', './data')),
    databaseUrl: read.optional('DATABASE_URL'),
    databasePoolMax: read.int('DATABASE_POOL_MAX', 20, 1, 1000),
    redisUrl: read.optional('REDIS_URL'),
    publicUrl: read.url('PUBLIC_URL'),
    signingSecret: read.optional('STOWAGE_SIGNING_SECRET'),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    storageDriver: read.oneOf('STORAGE_DRIVER', ['local', 's3'] as const, 'local'),
    s3: null,
    limits: {
      // One PUT to S3 carries at most 5 GiB; the local driver keeps the same ceiling so clients behave alike.
      singleRequestBytes: read.int('STOWAGE_SINGLE_REQUEST_MAX_BYTES', STORAGE_LIMITS.singlePutBytes, 1, STORAGE_LIMITS.singlePutBytes),
      multipartBytes: read.int(
        'STOWAGE_MULTIPART_MAX_BYTES',
        250 * 1024 ** 3,
        1,
        STORAGE_LIMITS.maxPartNumber * STORAGE_LIMITS.maxPartBytes,
      ),
      simpleUploadBytes: read.int('STOWAGE_SIMPLE_UPLOAD_MAX_BYTES', 512 * 1024 ** 2, 1),
      presignTtlSeconds: read.int('STOWAGE_PRESIGN_TTL_SECONDS', 3600, 1),
      downloadTtlSeconds: read.int('STOWAGE_DOWNLOAD_TTL_SECONDS', 300, 1),
      pendingTtlSeconds: read.int('STOWAGE_PENDING_TTL_SECONDS', 24 * 3600, 1),
      batchMax: 100,
    },
    http: {
      headersTimeoutMs: read.int('STOWAGE_HTTP_HEADERS_TIMEOUT_SECONDS', 30, 1) * 1000,
      idleTimeoutMs: read.number('STOWAGE_HTTP_IDLE_TIMEOUT_SECONDS', 60, 0.1) * 1000,
      keepAliveTimeoutMs: read.int('STOWAGE_HTTP_KEEP_ALIVE_SECONDS', 72, 1) * 1000,
      requestTimeoutMs: read.int('STOWAGE_HTTP_REQUEST_TIMEOUT_SECONDS', 24 * 3600, 0) * 1000,
      shutdownGraceMs: read.number('STOWAGE_SHUTDOWN_GRACE_SECONDS', 10, 0.1) * 1000,
    },
    rateLimit: {
      enabled: read.bool('RATE_LIMIT_ENABLED', true),
      perKey: read.int('RATE_LIMIT_PER_KEY', 600, 1),
      perOrg: read.int('RATE_LIMIT_PER_ORG', 3000, 1),
      windowSeconds: read.int('RATE_LIMIT_WINDOW_SECONDS', 60, 1),
    },
    jobs: {
      concurrency: read.int('STOWAGE_WORKER_CONCURRENCY', 2, 1, 64),
      retryLimit: read.int('STOWAGE_JOB_RETRY_LIMIT', 5, 0),
      retryDelaySeconds: read.int('STOWAGE_JOB_RETRY_DELAY_SECONDS', 2, 1),
      leaseSeconds: read.int('STOWAGE_JOB_LEASE_SECONDS', 300, 1),
      maintenanceIntervalSeconds: read.int('STOWAGE_JOB_MAINTENANCE_SECONDS', 30, 1),
      pollingIntervalSeconds: read.number('STOWAGE_JOB_POLL_SECONDS', 1, 0.5),
    },
    sweeper: {
      cron: read.cron('STOWAGE_SWEEP_CRON', '*/5 * * * *'),
      graceSeconds: read.int('STOWAGE_SWEEP_GRACE_SECONDS', 3 * 24 * 3600, 0),
      batch: read.int('STOWAGE_SWEEP_BATCH', 500, 1),
      trashRetentionSeconds: read.int('STOWAGE_TRASH_RETENTION_DAYS', 30, 0, 36_500) * 24 * 3600,
    },
    previews: {
      timeoutSeconds: read.int('STOWAGE_PREVIEW_TIMEOUT_SECONDS', 120, 1),
      maxMemoryMb: read.int('STOWAGE_PREVIEW_MAX_MEMORY_MB', 2048, 128),
    },
    readings: {
      timeoutSeconds: read.int('STOWAGE_READING_TIMEOUT_SECONDS', 120, 1),
      maxMemoryMb: read.int('STOWAGE_READING_MAX_MEMORY_MB', 1024, 64),
      maxInputBytes: read.int('STOWAGE_READING_MAX_INPUT_MB', 2048, 1) * 1024 * 1024,
    },
    webhooks: {
      allowPrivateTargets: read.bool('STOWAGE_WEBHOOK_ALLOW_PRIVATE', false),
      timeoutSeconds: read.number('STOWAGE_WEBHOOK_TIMEOUT_SECONDS', 15, 0.1, 300),
      leaseSeconds: read.number('STOWAGE_WEBHOOK_LEASE_SECONDS', 60, 1, 3600),
      // Svix's schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 28 hours in all).
      retryScheduleSeconds: read.numbers('STOWAGE_WEBHOOK_RETRY_SCHEDULE', [0, 5, 300, 1800, 7200, 18000, 36000, 36000], 0, 7 * 24 * 3600),
      disableAfterSeconds: read.number('STOWAGE_WEBHOOK_DISABLE_AFTER_SECONDS', 5 * 24 * 3600, 1),
      concurrency: read.int('STOWAGE_WEBHOOK_CONCURRENCY', 64, 1, 1024),
      previousSecretSeconds: read.int('STOWAGE_WEBHOOK_PREVIOUS_SECRET_SECONDS', 24 * 3600, 0),
      retentionSeconds: read.int('STOWAGE_WEBHOOK_RETENTION_DAYS', 30, 1, 3650) * 24 * 3600,
    },
    corsOrigins: read.list('CORS_ORIGINS', ['*']),
    refusedContentTypes: read.list('STOWAGE_REFUSED_CONTENT_TYPES', DEFAULT_REFUSED_TYPES),
  };
  if (config.storageDriver === 's3') {
    config.s3 = {
      endpoint: read.url('S3_ENDPOINT'),
      region: read.str('S3_REGION', 'us-east-1'),
      bucket: read.required('S3_BUCKET'),
      accessKeyId: read.required('S3_ACCESS_KEY_ID'),
      secretAccessKey: read.required('S3_SECRET_ACCESS_KEY'),
      forcePathStyle: read.bool('S3_FORCE_PATH_STYLE', false),
    };
  }
  // A lease that ends while its sender still waits for an answer hands the delivery to another sender: sent twice.
  if (config.webhooks.leaseSeconds < config.webhooks.timeoutSeconds + WEBHOOK_SETTLE_SECONDS) {
    read.problem(
      `STOWAGE_WEBHOOK_LEASE_SECONDS (${config.webhooks.leaseSeconds}) must be at least the webhook timeout ` +
        `(STOWAGE_WEBHOOK_TIMEOUT_SECONDS, ${config.webhooks.timeoutSeconds}) plus ${WEBHOOK_SETTLE_SECONDS} s to record the answer`,
    );
  }
  read.throwIfInvalid();
  return deepFreeze(config);
}

/** Collects every problem in the environment so a misconfigured start names them all at once. */
class EnvReader {
  private readonly problems: string[] = [];
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  optional(name: string): string | null {
    const value = this.env[name]?.trim();
    return value ? value : null;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === null) this.problems.push(`${name} is required`);
    return value ?? '';
  }

  str(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  number(name: string, fallback: number, min = -Infinity, max = Infinity): number {
    const raw = this.optional(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      this.problems.push(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  int(name: string, fallback: number, min = -Infinity, max = Infinity): number {
    const value = this.number(name, fallback, min, max);
    if (!Number.isInteger(value)) {
      this.problems.push(`${name} must be a whole number`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name)?.toLowerCase();
    if (raw === undefined || raw === null) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === null) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    return fallback;
  }

  /** An http(s) URL: `new URL('localhost:8080')` parses too, as a URL of scheme "localhost:". */
  url(name: string): string | null {
    const raw = this.optional(name);
    if (raw === null) return null;
    const url = URL.canParse(raw) ? new URL(raw) : null;
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      this.problems.push(`${name} must be an absolute http:// or https:// URL, got "${raw}"`);
      return null;
    }
    return url.toString().replace(/\/+$/, '');
  }

  /**
   * The shape of a cron expression (5 fields, or 6 with seconds), checked here so a typo stops the
   * start with the variable's name rather than failing when the worker first schedules it.
   */
  cron(name: string, fallback: string): string {
    const value = this.str(name, fallback);
    const fields = value.split(/\s+/);
    if ((fields.length !== 5 && fields.length !== 6) || !fields.every((f) => /^[\d*/,?LW#A-Za-z-]+$/.test(f))) {
      this.problems.push(`${name} must be a cron expression of 5 fields (minute hour day month weekday), got "${value}"`);
      return fallback;
    }
    return value;
  }

  /** Comma-separated numbers, each within [min, max], at least one. */
  numbers(name: string, fallback: readonly number[], min: number, max: number): number[] {
    const raw = this.optional(name);
    if (raw === null) return [...fallback];
    const values = raw.split(',').map((s) => Number(s.trim()));
    if (!values.length || values.some((v) => !Number.isFinite(v) || v < min || v > max)) {
      this.problems.push(`${name} must be comma-separated numbers between ${min} and ${max}, got "${raw}"`);
      return [...fallback];
    }
    return values;
  }

  /** A problem found by comparing settings, reported with the others. */
  problem(text: string): void {
    this.problems.push(text);
  }

  list(name: string, fallback: readonly string[]): string[] {
    const raw = this.env[name];
    if (raw === undefined) return [...fallback];
    return raw
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
  }

  throwIfInvalid(): void {
    if (this.problems.length) throw new ConfigError(`invalid configuration:\n  ${this.problems.join('\n  ')}`);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
