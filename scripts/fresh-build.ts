import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BUILD_SOURCES, build } from './build.js';

/**
 * Rebuilds (scripts/build.ts: SDK, dist/, console) when anything under the build's sources is newer
 * than dist/cli.js, so tests that spawn the built CLI, fork a built child script or load the console
 * never run yesterday's code. Returns what it did, for the log. (src/sandbox/run-child.ts
 * childScriptBeside makes the same comparison.)
 */
export function ensureFreshBuild(root: string): string {
  const builtAt = () => statSync(path.join(root, 'dist', 'cli.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const built = builtAt();
  const newest = Math.max(...BUILD_SOURCES.map((dir) => newestMtime(path.join(root, dir))));
  if (built >= newest) return 'dist/ is up to date';
  const started = Date.now();
  const failed = build(root);
  // tsc still writes dist/ when it reports type errors (`npm run typecheck` is where those fail); a
  // build that wrote nothing (crashed, killed, missing) must not leave the old one to be tested.
  if (failed.length && builtAt() < started) throw new Error(`the build failed: ${failed.join(', ')}`);
  return `rebuilt in ${Date.now() - started} ms${failed.length ? ` (with errors: ${failed.join(', ')})` : ''}`;
}

/** Files and folders alike: a deleted or renamed file shows only in its folder's time. A missing source folder counts as old. */
function newestMtime(dir: string): number {
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (!stats) return 0;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}
