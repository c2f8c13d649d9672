/**
 * `npm run build` (and `prepare`): the SDK (packages/client, which the CLI imports as #sdk), then the
 * server and CLI (dist/), then the web console's static bundle (dist/console). One list of steps, so
 * the test runner's freshness check (scripts/fresh-build.ts) builds exactly what `npm ci` builds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const BUILD_SOURCES = ['src', 'packages/client/src', 'console'];

interface Step {
  name: string;
  /** Skipped when this file is absent (a step whose sources have not been written yet). */
  needs: string;
  args: (root: string) => string[];
}

const tsc = (root: string) => path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const STEPS: Step[] = [
  { name: 'sdk', needs: 'packages/client/tsconfig.json', args: (root) => [tsc(root), '-p', 'packages/client/tsconfig.json'] },
  { name: 'server', needs: 'tsconfig.build.json', args: (root) => [tsc(root), '-p', 'tsconfig.build.json'] },
  { name: 'console', needs: 'scripts/build-console.ts', args: () => ['--import', 'tsx', 'scripts/build-console.ts'] },
];

/** Runs every step; answers the steps that exited non-zero (tsc still writes its output on type errors). */
export function build(root: string): string[] {
  const failed: string[] = [];
  for (const step of STEPS) {
    if (!existsSync(path.join(root, step.needs))) continue;
    const result = spawnSync(process.execPath, step.args(root), { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) failed.push(`${step.name}: ${result.status ?? result.signal ?? result.error?.message}`);
  }
  return failed;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const failed = build(path.resolve(import.meta.dirname, '..'));
  if (failed.length) {
    process.stderr.write(`build failed: ${failed.join(', ')}\n`);
    process.exit(1);
  }
}
