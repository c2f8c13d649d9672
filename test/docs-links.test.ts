/**
 * The docs travel with the repo: a fresh clone has nothing beside it, so every link in the README
 * and docs/ must land on a file (and heading) inside the repo, and none may point outside it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { firstPassOnly } from './helpers/ci-pass.js';

const root = path.resolve(import.meta.dirname, '..');
const withoutCode = (markdown: string) => markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');

/** Heading ids as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingIds(file: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of withoutCode(readFileSync(file, 'utf8')).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = heading
      .replace(/`/g, '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n ? `${base}-${n}` : base);
  }
  return ids;
}

/** What is wrong with each link of one Markdown file of the repo. */
function linkProblems(repo: string, file: string): string[] {
  const problems: string[] = [];
  const text = withoutCode(readFileSync(path.join(repo, file), 'utf8'));
  for (const [, target] of text.matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)) {
    if (/^(https?|mailto):/i.test(target)) continue;
    const [ref, anchor] = target.split('#');
    const resolved = ref ? path.resolve(path.dirname(path.join(repo, file)), ref) : path.join(repo, file);
    const inside = path.relative(repo, resolved);
    if (inside.startsWith('..') || path.isAbsolute(inside)) problems.push(`${file}: ${target} leaves the repo`);
    else if (!existsSync(resolved)) problems.push(`${file}: ${target} names no file`);
    else if (anchor && statSync(resolved).isFile() && !headingIds(resolved).has(anchor))
      problems.push(`${file}: ${target} names no heading of ${inside}`);
  }
  if (/(\.\.\/|\/work\/)shared\b/.test(text)) problems.push(`${file}: points at the workspace's shared folder`);
  return problems;
}

const docs = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('the README and docs/', { skip: firstPassOnly }, () => {
  it('link only to files and headings inside the repo', () => {
    assert.ok(docs.length >= 4, `README.md and the docs: ${docs.join(', ')}`);
    assert.deepEqual(
      docs.flatMap((file) => linkProblems(root, file)),
      [],
    );
  });

  it('has a check that catches a link out of the repo, a missing file and a missing heading', () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'stowage-links-'));
    try {
      mkdirSync(path.join(repo, 'docs'));
      writeFileSync(path.join(repo, 'docs', 'guide.md'), '# Guide\n## Glossary\n');
      writeFileSync(
        path.join(repo, 'README.md'),
        '# Title\n[a](../shared/SPEC.md) [b](docs/nothing.md) [c](docs/guide.md#no-such-heading) [d](#title) [e](docs/guide.md#glossary) [f](https://example.com)\n',
      );
      const found = linkProblems(repo, 'README.md').join('\n');
      assert.match(found, /\.\.\/shared\/SPEC\.md leaves the repo/);
      assert.match(found, /docs\/nothing\.md names no file/);
      assert.match(found, /#no-such-heading names no heading/);
      assert.match(found, /shared folder/);
      assert.equal(found.split('\n').length, 4, found);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
