import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkLayers } from '../scripts/check-layers.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const root = path.resolve(import.meta.dirname, '..');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'stowage-code-shape-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Files under `dir` that `npm run format` would change, by prettier's own CLI with the repo's settings and ignores. */
function unformattedFiles(dir: string): string[] {
  const prettier = path.join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
  const run = spawnSync(process.execPath, [prettier, '--list-different', '.'], { cwd: dir, encoding: 'utf8' });
  // 0: all formatted; 1: some are not (listed); anything else: prettier itself failed.
  if (run.status !== 0 && run.status !== 1) throw new Error(`prettier failed (${run.status ?? run.signal}): ${run.stderr}`);
  return run.stdout.split('\n').filter(Boolean).sort();
}

function writeTree(dir: string, files: Record<string, string>) {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
}

describe('formatting', { skip: firstPassOnly }, () => {
  it('every file is as `npm run format` writes it', () => {
    const unformatted = unformattedFiles(root);
    assert.deepEqual(unformatted, [], `run \`npm run format\`; unformatted:\n  ${unformatted.join('\n  ')}`);
  });

  it('the check passes a formatted file and names an unformatted one, with the repo settings and ignores', () => {
    const copy = path.join(scratch, 'formatting');
    mkdirSync(copy);
    for (const config of ['.prettierrc.json', '.prettierignore']) copyFileSync(path.join(root, config), path.join(copy, config));
    writeTree(copy, {
      'src/formatted.ts': "export const greeting = (name: string) => `hello ${name}`;\nexport const pair = { a: 'x', b: [1, 2] };\n",
      'src/unformatted.ts': 'export const pair = {a: "x", b: [1,2]}\n',
      // Built output is nobody's to format.
      'dist/built.js': 'export const pair = {a: "x"}\n',
    });
    assert.deepEqual(unformattedFiles(copy), ['src/unformatted.ts']);
  });
});

describe('import floors (scripts/check-layers.ts)', { skip: firstPassOnly }, () => {
  it('src/ has no import against the floors, no file off them and no import cycle', () => {
    const { files, violations } = checkLayers(root);
    assert.ok(files > 50, `only ${files} files checked`);
    assert.deepEqual(
      violations.map((v) => v.message),
      [],
    );
  });

  it('catches each kind of violation planted in a small tree, and passes the imports that go down', () => {
    const tree = path.join(scratch, 'layers');
    writeTree(tree, {
      'src/errors.ts': "import { gone } from './gone.js';\nexport const e = gone;\n",
      'src/ids.ts': 'export const id = 1;\n',
      'src/db/connect.ts': "import type { Caller } from '../access/caller.js';\nimport { id } from '../ids.js';\nexport const c = id;\n",
      'src/access/caller.ts': "import { c } from '../db/connect.js';\nexport type Caller = typeof c;\n",
      'src/blobs/local.ts': "export { schema } from '../http/schemas.js';\n",
      'src/http/schemas.ts': "import { c } from '../db/connect.js';\nexport const schema = c;\n",
      'src/http/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/http/b.ts': "import { c } from './c.js';\nexport const b = () => c;\n",
      'src/http/c.ts': "import { a } from './a.js';\nexport const c = () => a;\n",
      'src/jobs/worker.ts': "export const load = () => import('../modules/uploads/index.js');\n",
      'src/modules/uploads/index.ts':
        "import { schema } from '../../http/schemas.js';\nimport { id } from '../../ids.js';\nexport const u = [schema, id];\n",
      'src/widgets/thing.ts': "import { id } from '../ids.js';\nexport const t = id;\n",
      'src/cli.ts': "import { u } from './modules/uploads/index.js';\nimport 'node:fs';\nimport 'fastify';\nexport const cli = u;\n",
    });

    const { files, violations } = checkLayers(tree);
    assert.equal(files, 13);
    assert.deepEqual(
      violations.map((v) => v.message),
      [
        'src/blobs/local.ts (floor 1) imports src/http/schemas.ts (floor 3): blobs does not import http',
        'src/db/connect.ts (floor 1) imports src/access/caller.ts (floor 2): a file imports only its own floor or lower',
        'src/errors.ts imports ./gone.js, which is no file',
        'src/jobs/worker.ts (floor 2) imports src/modules/uploads/index.ts (floor 4): jobs imports no module: job handlers come in from the composition root',
        'src/widgets/thing.ts is on no floor: place its folder in scripts/check-layers.ts',
        'import cycle: src/access/caller.ts → src/db/connect.ts → src/access/caller.ts',
        'import cycle: src/http/a.ts → src/http/b.ts → src/http/c.ts → src/http/a.ts',
      ],
    );
  });
});

/**
 * The console is bundled by esbuild, which never checks types, and it has a browser's lib of its own
 * (console/tsconfig.json): its types are checked here. The server and the SDK are checked by the
 * build itself (scripts/build.ts fails `npm ci` on a type error there).
 */
describe('types', { skip: firstPassOnly }, () => {
  it('tsc --noEmit -p console/tsconfig.json finds no error', () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'console/tsconfig.json'], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 0, `type errors:\n${run.stdout}${run.stderr}`);
  });
});
