import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Authenticate } from '../http/auth.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { BackgroundTask, JobKind, PeriodicJob } from '../jobs/job-kind.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Metrics } from '../metrics.js';
import type { ModuleEvents, ModuleListeners } from './events.js';

/** What every module is built from: the process's runtime and the events modules tell each other. */
export interface ModuleDeps {
  config: Config;
  db: Db;
  blobs: BlobStore;
  queue: JobQueue;
  metrics: Metrics;
  logger: Logger;
  events: ModuleEvents;
}

/**
 * One feature of the service, built once per process by its folder's index.ts from `ModuleDeps`.
 * Everything it brings is optional: an API process registers `routes` under `prefix`, a worker
 * process runs `jobs`, `periodic` and `background`, and both wire `on` to the events other modules emit.
 */
export interface Module {
  readonly name: string;
  /** Where the routes live; the routes themselves are written relative to it. */
  readonly prefix?: string;
  /** Schemas with an `$id` that routes (of any module) and the OpenAPI document refer to. */
  readonly schemas?: readonly TSchema[];
  readonly routes?: (app: FastifyInstance) => Promise<void>;
  readonly jobs?: readonly JobKind<ModuleDeps>[];
  readonly periodic?: readonly PeriodicJob<ModuleDeps>[];
  readonly background?: readonly BackgroundTask<ModuleDeps>[];
  readonly on?: Partial<ModuleListeners>;
  /** The module that knows API keys resolves the key each request presents. */
  readonly authenticate?: Authenticate;
}

export type ModuleFactory = (deps: ModuleDeps) => Module;
