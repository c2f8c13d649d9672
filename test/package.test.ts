import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');

// What `npm pack` would put in the tarball, read from npm itself. --ignore-scripts: its prepack
// clears dist/, which the other test files are running from.
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const [report] = JSON.parse(out) as [{ files: { path: string }[] }];
  return report.files.map((f) => f.path);
}

describe('the npm package', () => {
  const files = packedFiles();

  it('carries the licence, the README and the built CLI', () => {
    for (const needed of ['LICENSE', 'README.md', 'package.json', 'dist/cli.js']) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
  });

  it('carries every SQL migration, which the built CLI reads from src/db/migrations at run time', () => {
    const migrations = readdirSync(path.join(root, 'src', 'db', 'migrations')).filter((f) => f.endsWith('.sql'));
    assert.ok(migrations.length > 0);
    for (const file of migrations) {
      assert.ok(files.includes(`src/db/migrations/${file}`), `migration ${file} is not in the package`);
    }
  });

  it('leaves out tests, sources, benchmarks, scripts and CI', () => {
    const stray = files.filter(
      (f) => /^(test|bench|scripts|\.ci)\//.test(f) || (f.startsWith('src/') && !f.startsWith('src/db/migrations/')),
    );
    assert.deepEqual(stray, []);
  });
});
