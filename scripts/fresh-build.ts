import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Rebuilds dist/ (tsc -p tsconfig.build.json) when anything under src/ is newer than dist/cli.js, so
 * tests that spawn the built CLI, or fork a built child script, never run yesterday's code. Returns
 * what it did, for the log. (src/sandbox/run-child.ts childScriptBeside makes the same comparison.)
 */
export function ensureFreshBuild(root: string): string {
  const builtAt = () => statSync(path.join(root, 'dist', 'cli.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const built = builtAt();
  const newest = newestMtime(path.join(root, 'src'));
  if (built >= newest) return 'dist/ is up to date';
  const started = Date.now();
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // tsc still writes dist/ when it reports type errors (`npm run typecheck` is where those fail); a
  // tsc that wrote nothing (crashed, killed, missing) must not leave the old build to be tested.
  if (result.status !== 0 && builtAt() < started) {
    throw new Error(`the build (tsc -p tsconfig.build.json) failed: ${result.status ?? result.signal ?? result.error?.message}`);
  }
  return `rebuilt dist/ in ${Date.now() - started} ms${result.status ? ' (with type errors)' : ''}`;
}

/** Files and folders alike: a deleted or renamed file shows only in its folder's time. */
function newestMtime(dir: string): number {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}
