import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The console's built files (scripts/build-console.ts writes them to dist/console). This module runs
 * from dist/modules/console/ in a built server and from src/modules/console/ under tsx (tests, dev),
 * so the bundle is looked for beside the one and inside dist/ of the other.
 */
export function consoleBundleDir(moduleDir: string): string {
  const besideBuilt = path.resolve(moduleDir, '..', '..', 'console');
  const fromSources = path.resolve(moduleDir, '..', '..', '..', 'dist', 'console');
  const candidates =
    path.basename(path.resolve(moduleDir, '..', '..')) === 'dist' ? [besideBuilt, fromSources] : [fromSources, besideBuilt];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html'))) ?? candidates[0];
}

/** Whether the bundle is there now: checked per request, so a build made while the server runs is served without a restart. */
export function bundleIsBuilt(dir: string): boolean {
  return existsSync(path.join(dir, 'index.html'));
}

const HASH_SOURCE = /^'sha256-[A-Za-z0-9+/]+={0,2}'$/;
let known: { file: string; mtimeMs: number; hashes: string[] } | null = null;

/**
 * The CSP hash sources of the fixed <style> elements the bundle writes (model-viewer's), as the
 * build listed them in inline-styles.json; read again only when a build rewrote the file.
 */
export function inlineStyleHashes(dir: string): string[] {
  const file = path.join(dir, 'inline-styles.json');
  const mtimeMs = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (known?.file === file && known.mtimeMs === mtimeMs) return known.hashes;
  let hashes: string[] = [];
  try {
    const listed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    // Only hash sources reach the header: whatever else the file held is not a policy to send.
    if (Array.isArray(listed)) hashes = listed.filter((h): h is string => typeof h === 'string' && HASH_SOURCE.test(h));
  } catch {
    // No list (an older build, or none): the policy allows no inline style at all.
  }
  known = { file, mtimeMs, hashes };
  return hashes;
}
