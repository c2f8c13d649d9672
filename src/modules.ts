import { ModuleEvents } from './modules/events.js';
import type { Module, ModuleDeps, ModuleFactory } from './modules/module.js';
import { blobUrlsModule } from './modules/blob-urls/index.js';
import { consoleModule } from './modules/console/index.js';
import { datasetsModule } from './modules/datasets/index.js';
import { filesModule } from './modules/files/index.js';
import { foldersModule } from './modules/folders/index.js';
import { healthModule } from './modules/health/index.js';
import { jobStatusModule } from './modules/job-status/index.js';
import { keysModule } from './modules/keys/index.js';
import { partsModule } from './modules/parts/index.js';
import { policyModule } from './modules/policy/index.js';
import { previewsModule } from './modules/previews/index.js';
import { readingsModule } from './modules/readings/index.js';
import { revisionsModule } from './modules/revisions/index.js';
import { sweeperModule } from './modules/sweeper/index.js';
import { tusModule } from './modules/tus/index.js';
import { uploadsModule } from './modules/uploads/index.js';
import { webhooksModule } from './modules/webhooks/index.js';

/**
 * Every module of the service, one line each. The order is the order listeners hear events and
 * routes are registered in; nothing else depends on it.
 */
const MODULES: readonly ModuleFactory[] = [
  healthModule,
  keysModule,
  uploadsModule,
  tusModule,
  policyModule,
  blobUrlsModule,
  jobStatusModule,
  previewsModule,
  readingsModule,
  partsModule,
  revisionsModule,
  datasetsModule,
  foldersModule,
  filesModule,
  sweeperModule,
  webhooksModule,
  consoleModule,
];

/** The modules of one process, built once from its runtime, with what they bring gathered. */
export interface Composition {
  deps: ModuleDeps;
  modules: readonly Module[];
  jobs: NonNullable<Module['jobs']>;
  periodic: NonNullable<Module['periodic']>;
  background: NonNullable<Module['background']>;
}

/** Builds every module, wires their listeners, and creates the queues of their job kinds. */
export async function composeModules(runtime: Omit<ModuleDeps, 'events'>): Promise<Composition> {
  const events = new ModuleEvents();
  const deps: ModuleDeps = { ...runtime, events };
  const modules = MODULES.map((make) => make(deps));
  for (const module of modules) if (module.on) events.listen(module.on);
  const jobs = modules.flatMap((m) => m.jobs ?? []);
  const periodic = modules.flatMap((m) => m.periodic ?? []);
  const background = modules.flatMap((m) => m.background ?? []);
  await deps.queue.prepare(jobs, periodic);
  return { deps, modules, jobs, periodic, background };
}
