/**
 * Bundles the web console (console/) into dist/console, which the server serves at /console:
 *
 *   node --import tsx scripts/build-console.ts      (a step of `npm run build`, see scripts/build.ts)
 *
 * dist/console/index.html, and under assets/ every script and style sheet named by its content hash
 * (so the server can let browsers keep them for a year). Uppy (the uploads view) and model-viewer
 * with three.js (the 3D preview) are separate chunks, loaded only by the views that use them.
 *
 * The console's Content-Security-Policy allows no inline style, but model-viewer puts one <style>
 * element in its shadow root. Its text is fixed, so the build lists the SHA-256 of every such element
 * in the bundled code in dist/console/inline-styles.json, and the server allows exactly those.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const source = path.join(root, 'console');
const out = path.join(root, 'dist', 'console');
const assets = path.join(out, 'assets');

/** The files index.html names, by the name they have before the build gives them their hash. */
const ENTRIES = { main: 'console/src/main.ts', style: 'console/src/style.css' } as const;
/** Read by src/modules/console/content-security-policy.ts. */
const INLINE_STYLES = 'inline-styles.json';

const started = Date.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir: assets,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'edge111', 'firefox115', 'safari16.4'],
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  minify: true,
  sourcemap: 'linked',
  // Maps name the original files and lines (for stack traces) without carrying their text: the package stays small.
  sourcesContent: false,
  legalComments: 'linked',
  metafile: true,
  tsconfig: path.join(source, 'tsconfig.json'),
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});

const built = builtEntries(result.metafile);
let html = readFileSync(path.join(source, 'index.html'), 'utf8');
for (const [name, file] of Object.entries(built)) {
  const placeholder = `/console/assets/${name}.${file.endsWith('.css') ? 'css' : 'js'}`;
  if (!html.includes(placeholder)) throw new Error(`console/index.html does not name ${placeholder}`);
  html = html.replace(placeholder, `/console/assets/${file}`);
}
writeFileSync(path.join(out, 'index.html'), html);
writeFileSync(path.join(out, INLINE_STYLES), `${JSON.stringify(inlineStyleHashes(result.metafile), null, 2)}\n`);

const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => !file.endsWith('.map') && !file.endsWith('.LEGAL.txt'))
  .map(([file, output]) => `${path.basename(file)} ${(output.bytes / 1024).toFixed(0)} KiB`);
console.log(`console: ${sizes.length} files in dist/console in ${Date.now() - started} ms (${sizes.join(', ')})`);

/** The hashed file each entry point became (its name relative to assets/). */
function builtEntries(metafile: Metafile): Record<keyof typeof ENTRIES, string> {
  const found: Partial<Record<keyof typeof ENTRIES, string>> = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    for (const [name, entry] of Object.entries(ENTRIES) as [keyof typeof ENTRIES, string][]) {
      if (output.entryPoint === entry) found[name] = path.relative(assets, path.resolve(root, file));
    }
  }
  for (const name of Object.keys(ENTRIES) as (keyof typeof ENTRIES)[]) {
    if (!found[name]) throw new Error(`esbuild wrote nothing for the entry point ${name}`);
  }
  return found as Record<keyof typeof ENTRIES, string>;
}

/**
 * The CSP hash sources ('sha256-…') of the <style> elements the bundled code writes into pages (in
 * lit templates). A style with an interpolation or an escape would not hash to what the browser sees,
 * so the build refuses it rather than ship a console whose viewer is unstyled.
 */
function inlineStyleHashes(metafile: Metafile): string[] {
  const hashes = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    if (!/\.[cm]?[jt]s$/.test(input)) continue;
    const text = readFileSync(path.resolve(root, input), 'utf8');
    for (const [, css] of text.matchAll(/<style>([\s\S]*?)<\/style>/g)) {
      if (css.includes('${') || css.includes('\\'))
        throw new Error(`${input}: an inline <style> whose text is not fixed; its hash cannot be known`);
      hashes.add(`'sha256-${createHash('sha256').update(css).digest('base64')}'`);
    }
  }
  return [...hashes].sort();
}
