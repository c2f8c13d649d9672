/**
 * Readings extracted in the sandbox: CSV, JSON, JSON Lines and text files written here, each read by
 * the real child process (src/readings/extract-child.ts) under real limits; hostile files failing with
 * their reason and quickly; the sandbox (src/sandbox/run-child.ts) killing children that loop or eat
 * memory while this process (the server) carries on. No database.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import { extractReading } from '../src/readings/extract.js';
import { extractJson, JSON_PARSE_WHOLE_BYTES } from '../src/readings/extractors/json.js';
import { readingKindOf } from '../src/readings/kinds.js';
import {
  CONTENT_TEXT_CAP_CHARS,
  type ExtractLimits,
  ReadingError,
  type ReadingFailure,
  type ReadingKind,
} from '../src/readings/reading.js';
import { childScriptBeside, describeDeath, freshBuiltTwin, runChild } from '../src/sandbox/run-child.js';

const LIMITS: ExtractLimits = { timeoutMs: 30_000, maxMemoryMb: 512 };

/**
 * ~21 MB of CSV in 400,000 rows of 4 columns, which a child is still counting when a limit or an abort
 * comes: a built child (`npm test` forks dist/'s) takes ~0.15 s to start and ~0.25 s more to count it.
 */
const slowCsv = () => 'id,text,quoted,date\n' + '12345,some text here,"quoted, with comma",2024-01-01\n'.repeat(400_000);

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-readings-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function file(name: string, bytes: string | Buffer): Promise<string> {
  const at = path.join(dir, `${++counter}-${name}`);
  await writeFile(at, bytes);
  return at;
}

async function extract(name: string, bytes: string | Buffer, kind: ReadingKind, limits = LIMITS) {
  const input = await file(name, bytes);
  const work = await mkdtemp(path.join(dir, 'work-'));
  return extractReading(input, kind, work, limits);
}

/** Runs the extraction expecting a ReadingError with `reason` (and a message matching), in under `withinMs`. */
async function assertFails(
  name: string,
  bytes: string | Buffer,
  kind: ReadingKind,
  reason: ReadingFailure,
  message: RegExp,
  options: { limits?: ExtractLimits; withinMs?: number } = {},
) {
  const started = performance.now();
  await assert.rejects(extract(name, bytes, kind, options.limits), (error: unknown) => {
    assert.ok(error instanceof ReadingError, `a ReadingError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    assert.match(error.message, message);
    return true;
  });
  const ms = performance.now() - started;
  assert.ok(ms < (options.withinMs ?? 10_000), `failed in ${Math.round(ms)} ms`);
}

describe('readingKindOf', () => {
  const cases: [name: string, detected: string | null, declared: string | null, kind: ReadingKind][] = [
    ['report.pdf', 'application/pdf', 'application/pdf', 'pdf'],
    ['report.txt', 'application/pdf', 'text/plain', 'pdf'], // the bytes' signature beats the name
    ['data.csv', 'text/plain', 'application/vnd.ms-excel', 'csv'],
    ['data.tsv', 'text/plain', null, 'csv'],
    ['export', 'text/plain', 'text/csv; charset=utf-8', 'csv'],
    ['export', null, 'text/tab-separated-values', 'csv'],
    ['junk.csv', null, null, 'csv'], // binary junk named .csv is read as a CSV (and fails as malformed)
    ['junk.csv', 'application/zip', null, 'csv'],
    ['config.json', 'application/json', null, 'json'],
    ['config', 'application/json', null, 'json'],
    ['config', null, 'application/json', 'json'],
    ['events.jsonl', 'application/json', null, 'jsonl'],
    ['events.ndjson', 'text/plain', null, 'jsonl'],
    ['events', 'text/plain', 'application/x-ndjson', 'jsonl'],
    ['photo.jpg', 'image/jpeg', 'image/jpeg', 'image'],
    ['photo', 'image/webp', null, 'image'],
    ['scan.TIFF', 'image/tiff', null, 'image'],
    ['notes.md', 'text/plain', null, 'text'],
    ['server.log', null, null, 'text'],
    ['README', 'text/plain', null, 'text'],
    ['page', null, 'text/html', 'text'],
    ['part.STEP', 'model/step', null, 'cad'],
    ['part.stl', 'model/stl', null, 'cad'],
    ['archive.zip', 'application/zip', 'application/zip', 'unsupported'],
    ['archive', 'application/zip', 'text/plain', 'unsupported'], // a declared text type the bytes contradict
    ['movie.mp4', 'video/mp4', null, 'unsupported'],
    ['blob', null, null, 'unsupported'],
    ['x.constructor', null, null, 'unsupported'],
    ['logo.svg', 'application/xml', 'image/svg+xml', 'unsupported'],
  ];
  for (const [name, detected, declared, kind] of cases) {
    test(`${name} (detected ${detected}, declared ${declared}) → ${kind}`, () => {
      assert.equal(readingKindOf(name, detected, declared), kind);
    });
  }
});

describe('CSV', { concurrency: 2 }, () => {
  test('comma, a header, quoted fields with a delimiter, a newline and an escaped quote, CRLF', async () => {
    const csv = 'name,age,city\r\nalice,30,"New\nYork"\r\n"bob, jr",25,"say ""hi"""\r\n\r\ncarol,41,Oslo\r\n';
    const { content, ms, peakRssMb } = await extract('people.csv', csv, 'csv');
    assert.deepEqual(content, {
      delimiter: ',',
      header: ['name', 'age', 'city'],
      row_count: 3,
      sample_rows: [
        ['alice', '30', 'New\nYork'],
        ['bob, jr', '25', 'say "hi"'],
        ['carol', '41', 'Oslo'],
      ],
      column_count: 3,
    });
    assert.ok(ms > 0);
    assert.equal(peakRssMb, 0, 'a file this small is read in process, without a child');
  });

  test('semicolons, tabs and pipes are sniffed; no header when the first row has numbers; samples are the first 5 rows', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => [String(i), `item ${i}`, (i * 1.5).toFixed(1)]);
    const semi = await extract('semi.csv', '\ufeff' + rows.map((r) => r.join(';')).join('\n'), 'csv');
    assert.equal(semi.content.delimiter, ';');
    assert.equal(semi.content.header, null);
    assert.equal(semi.content.row_count, 12);
    assert.deepEqual(semi.content.sample_rows, rows.slice(0, 5));
    const tsv = await extract('t.tsv', 'a\tb, with comma\tc\n' + rows.map((r) => r.join('\t')).join('\n') + '\n', 'csv');
    assert.equal(tsv.content.delimiter, '\t');
    assert.deepEqual(tsv.content.header, ['a', 'b, with comma', 'c']);
    assert.equal(tsv.content.row_count, 12);
    const pipe = await extract('p.csv', 'x|y\n1|2\n3|4\n', 'csv');
    assert.deepEqual([pipe.content.delimiter, pipe.content.header, pipe.content.row_count], ['|', ['x', 'y'], 2]);
  });

  test('a large CSV is counted whole, in flat memory', async () => {
    const { content, peakRssMb } = await extract('big.csv', slowCsv(), 'csv', { timeoutMs: 30_000, maxMemoryMb: 200 });
    assert.equal(content.row_count, 400_000);
    assert.equal(content.column_count, 4);
    assert.ok(peakRssMb > 0 && peakRssMb < 200, `a child read it: peak ${peakRssMb} MB`);
  });

  test('an empty file is a CSV of no rows', async () => {
    const { content } = await extract('empty.csv', '', 'csv');
    assert.equal(content.row_count, 0);
    assert.deepEqual(content.sample_rows, []);
  });
});

describe('JSON and JSON Lines', { concurrency: 2 }, () => {
  test('an object: its keys, their count, a sample with long strings cut', async () => {
    const doc = { name: 'stowage', tags: ['a', 'b'], nested: { deep: { deeper: 1 } }, long: 'x'.repeat(5000), n: null };
    const { content } = await extract('doc.json', JSON.stringify(doc, null, 2), 'json');
    assert.equal(content.kind, 'object');
    assert.deepEqual(content.top_level_keys, ['name', 'tags', 'nested', 'long', 'n']);
    assert.equal(content.key_count, 5);
    const sample = content.sample as Record<string, unknown>;
    assert.deepEqual(sample.tags, ['a', 'b']);
    assert.equal((sample.long as string).length, 1001); // 1,000 characters and an ellipsis
  });

  test('an array: its element count and first 5 elements; a scalar: its value', async () => {
    const array = Array.from({ length: 1000 }, (_, i) => ({ id: i, label: `row ${i}`, list: [i, [i]] }));
    const { content } = await extract('rows.json', JSON.stringify(array), 'json');
    assert.deepEqual(content, { kind: 'array', element_count: 1000, sample: array.slice(0, 5) });
    assert.deepEqual((await extract('empty.json', ' [ ] ', 'json')).content, { kind: 'array', element_count: 0, sample: [] });
    assert.deepEqual((await extract('n.json', ' 42\n', 'json')).content, { kind: 'scalar', value: 42 });
    assert.deepEqual((await extract('s.json', '"h\\u00e9"', 'json')).content, { kind: 'scalar', value: 'hé' });
  });

  test('a JSON larger than the whole-parse size is scanned as a stream (in process)', async () => {
    const element = JSON.stringify({ id: 1, text: 'lorem ipsum dolor sit amet '.repeat(4), list: [1, 2, 3] });
    const count = Math.ceil((JSON_PARSE_WHOLE_BYTES + 1024 * 1024) / element.length);
    const input = await file('huge.json', `[${Array.from({ length: count }, () => element).join(',\n')}]`);
    const { content } = await extractJson(input);
    assert.equal(content.kind, 'array');
    assert.equal(content.element_count, count);
    assert.deepEqual((content.sample as unknown[])[4], JSON.parse(element));
  });

  test('JSON Lines: records counted, blank lines skipped, the first 5 kept', async () => {
    const records = Array.from({ length: 50 }, (_, i) => ({ event: 'click', n: i }));
    const body = records.map((r) => JSON.stringify(r)).join('\n') + '\n\n';
    const { content } = await extract('events.jsonl', body, 'jsonl');
    assert.deepEqual(content, { kind: 'jsonl', record_count: 50, sample: records.slice(0, 5) });
  });
});

describe('text', { concurrency: 3 }, () => {
  const cases: [name: string, bytes: Buffer, encoding: string, text: string][] = [
    ['ascii.txt', Buffer.from('one\ntwo\nthree'), 'ascii', 'one\ntwo\nthree'],
    ['utf8.md', Buffer.from('# Überschrift\nnaïve café — ✓\n'), 'utf-8', '# Überschrift\nnaïve café — ✓\n'],
    ['bom.txt', Buffer.from('\ufeffwith a BOM\n'), 'utf-8', 'with a BOM\n'],
    [
      'le.txt',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Grüße\nfrom UTF-16\n', 'utf16le')]),
      'utf-16le',
      'Grüße\nfrom UTF-16\n',
    ],
    ['be.txt', iconv.encode('plain ASCII in UTF-16BE\nline two\n', 'utf-16be'), 'utf-16be', 'plain ASCII in UTF-16BE\nline two\n'],
    [
      'win.txt',
      iconv.encode('Café crème — “quoted” costs 5 €.\nSecond line, naïve.\n'.repeat(3), 'windows-1252'),
      'windows-1252',
      'Café crème — “quoted” costs 5 €.\nSecond line, naïve.\n'.repeat(3),
    ],
  ];
  for (const [name, bytes, encoding, text] of cases) {
    test(`${name}: ${encoding}`, async () => {
      const { content, textPath } = await extract(name, bytes, 'text');
      assert.equal(content.encoding, encoding);
      assert.equal(content.text, text);
      assert.equal(content.line_count, text.split('\n').length - (text.endsWith('\n') ? 1 : 0));
      assert.equal(content.text_truncated, undefined);
      assert.equal(await readFile(textPath!, 'utf8'), text);
    });
  }

  test('a long text is cut in the content, and whole in the text file for search', async () => {
    const line = 'The quick brown fox jumps over the lazy dog.\n';
    const text = line.repeat(Math.ceil((CONTENT_TEXT_CAP_CHARS * 2) / line.length));
    const { content, textPath } = await extract('long.log', text, 'text');
    assert.equal((content.text as string).length, CONTENT_TEXT_CAP_CHARS);
    assert.equal(content.text_truncated, true);
    assert.equal(content.line_count, text.length / line.length);
    assert.equal(await readFile(textPath!, 'utf8'), text);
  });
});

describe('hostile files fail with their reason, quickly', () => {
  test('a CSV of 100,000 columns: too_large', () =>
    assertFails(
      'wide.csv',
      Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',') + '\n1,2\n',
      'csv',
      'too_large',
      /columns|longer than/,
    ));

  test('a CSV whose 2,049 columns appear after the first rows: too_large', () =>
    assertFails('late.csv', 'a,b\n1,2\n'.repeat(1000) + ','.repeat(3000) + '\n', 'csv', 'too_large', /more than 2048 columns/));

  test('binary junk named .csv: classified csv, fails malformed', async () => {
    const junk = Buffer.alloc(200_000);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + (i >> 3)) & 0xff;
    assert.equal(readingKindOf('junk.csv', null, 'text/csv'), 'csv');
    await assertFails('junk.csv', junk, 'csv', 'malformed', /binary|UTF-8/);
  });

  test('a CSV in another encoding than UTF-8: malformed', () =>
    assertFails('latin.csv', Buffer.from('name;city\nJos\xe9;M\xe1laga\n', 'latin1'), 'csv', 'malformed', /not UTF-8/));

  test('a CSV quote that never closes: malformed or too_large, never read to the end of memory', async () => {
    await assertFails('open-quote.csv', 'a,b\n1,"never closed\n2,3\n', 'csv', 'malformed', /never closes|Quote Not Closed/);
    await assertFails('open-quote-big.csv', 'a,b\n1,"' + 'x\n'.repeat(1_000_000), 'csv', 'too_large', /longer than/);
  });

  test('a JSON Lines file with a broken line: malformed, naming the line', () =>
    assertFails('broken.jsonl', '{"a":1}\n{"a":2}\n{"a":\n{"a":4}\n', 'jsonl', 'malformed', /line 3/));

  test('a JSON nested 100,000 levels: too_large', () =>
    assertFails('deep.json', '['.repeat(100_000) + ']'.repeat(100_000), 'json', 'too_large', /nested deeper/));

  test('broken JSON: malformed', async () => {
    await assertFails('trailing.json', '{"a": 1,}', 'json', 'malformed', /not valid JSON/);
    await assertFails('two.json', '{"a": 1} {"b": 2}', 'json', 'malformed', /not valid JSON/);
    await assertFails('junk.json', Buffer.from([0x7b, 0x00, 0xff, 0x13]), 'json', 'malformed', /not valid JSON/);
    await assertFails('empty.json', '', 'json', 'malformed', /empty/);
  });

  test('binary junk read as text: malformed', () =>
    assertFails('junk.txt', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff)), 'text', 'malformed', /binary/));

  test('a file making the child pass its memory limit: memory_limit, and the child is gone', async () => {
    // Parsed whole (it is under JSON_PARSE_WHOLE_BYTES), 8 MB of empty objects costs ~350 MB: far past 150 MB.
    const body =
      '[' +
      Array(Math.floor((JSON_PARSE_WHOLE_BYTES - 10) / 3))
        .fill('{}')
        .join(',') +
      ']';
    await assertFails('hungry.json', body, 'json', 'memory_limit', /memory|heap/, { limits: { timeoutMs: 30_000, maxMemoryMb: 150 } });
  });

  test('an extraction past its time limit: timeout', () =>
    assertFails('slow.csv', slowCsv(), 'csv', 'timeout', /longer than 100 ms/, {
      limits: { timeoutMs: 100, maxMemoryMb: 512 },
      withinMs: 3000,
    }));

  test('an aborted extraction: aborted; a missing input: a plain Error; cad and unsupported: no extractor here', async () => {
    const controller = new AbortController();
    // Over the in-process size, so a child reads it and the signal has one to stop.
    const input = await file('abort.csv', slowCsv());
    const running = extractReading(input, 'csv', dir, LIMITS, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(running, (error: unknown) => error instanceof ReadingError && error.reason === 'aborted');
    await assert.rejects(extractReading(path.join(dir, 'missing.csv'), 'csv', dir, LIMITS), (error: unknown) => {
      assert.ok(!(error instanceof ReadingError), 'not the file’s fault');
      return true;
    });
    await assert.rejects(extractReading(input, 'cad', dir, LIMITS), TypeError);
    await assert.rejects(extractReading(input, 'unsupported', dir, LIMITS), TypeError);
  });
});

describe('the sandbox (runChild)', () => {
  const limits = { timeoutMs: 10_000, maxMemoryMb: 256 };
  async function child(name: string, code: string): Promise<string> {
    return file(name, code);
  }

  test('a reply is answered, with the child’s peak memory', async () => {
    // It answers after two memory samples (every 100 ms): answering sooner, it could be gone before the first.
    const script = await child(
      'echo.mjs',
      'setTimeout(() => process.send({ ok: true, args: process.argv.slice(2), maxRssMb: 1 }, () => process.exit(0)), 250);\n',
    );
    const outcome = await runChild<{ ok: boolean; args: string[] }>({ script, args: ['a', 'b c'], limits });
    assert.equal(outcome.kind, 'replied');
    if (outcome.kind !== 'replied') return;
    assert.deepEqual(outcome.reply.args, ['a', 'b c']);
    assert.ok(outcome.peakRssMb > 1 && outcome.peakRssMb < 256, `peak ${outcome.peakRssMb}`);
  });

  test('a child that loops forever is killed at its time limit; the server goes on', async () => {
    const script = await child('loop.mjs', 'for (;;) {}\n');
    const started = performance.now();
    const outcome = await runChild({ script, args: [], limits: { timeoutMs: 500, maxMemoryMb: 256 } });
    assert.equal(outcome.kind, 'killed');
    assert.equal(outcome.kind === 'killed' && outcome.reason, 'timeout');
    assert.ok(performance.now() - started < 3000);
  });

  test('a child growing native memory (Buffers, outside the V8 heap) is killed at its memory limit', async () => {
    const script = await child('grow.mjs', 'const held = []; setInterval(() => held.push(Buffer.alloc(16 << 20, 1)), 5);\n');
    const before = process.memoryUsage().rss;
    const outcome = await runChild({ script, args: [], limits: { timeoutMs: 20_000, maxMemoryMb: 150 } });
    assert.equal(outcome.kind, 'killed');
    if (outcome.kind !== 'killed') return;
    assert.equal(outcome.reason, 'memory_limit');
    assert.ok(outcome.peakRssMb > 150, `peak ${outcome.peakRssMb}`);
    assert.ok(process.memoryUsage().rss - before < 50 * 1024 * 1024, 'the parent did not grow');
  });

  test('a child filling its V8 heap stops at the heap cap (or the RSS watch), never past the limit', async () => {
    const script = await child('heap.mjs', 'const held = []; for (;;) held.push({ a: Math.random(), b: [1, 2, 3] });\n');
    const outcome = await runChild({ script, args: [], limits: { timeoutMs: 20_000, maxMemoryMb: 64 } });
    assert.ok(
      outcome.kind === 'heap_exhausted' || (outcome.kind === 'killed' && outcome.reason === 'memory_limit'),
      JSON.stringify(outcome),
    );
  });

  test('a child dying without an answer: its exit and the tail of its stderr', async () => {
    const script = await child('die.mjs', "console.error('first'); console.error('it went wrong'); process.exit(3);\n");
    const outcome = await runChild({ script, args: [], limits });
    assert.equal(outcome.kind, 'died');
    if (outcome.kind !== 'died') return;
    assert.equal(describeDeath(outcome), 'exited with code 3 without an answer: first | it went wrong');
  });

  test('an abort signal kills the child', async () => {
    const script = await child('wait.mjs', 'setInterval(() => {}, 1000);\n');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const outcome = await runChild({ script, args: [], limits, signal: controller.signal });
    assert.deepEqual(outcome.kind === 'killed' && outcome.reason, 'aborted');
  });
});

describe('which child script is forked', () => {
  const extractModule = new URL('../src/readings/extract.ts', import.meta.url).href;
  const tsChild = fileURLToPath(new URL('../src/readings/extract-child.ts', import.meta.url));

  test('a .ts parent forks the .ts child unless told that dist/ was built for this run', async (t) => {
    const told = process.env.STOWAGE_CHILD_SCRIPTS_FROM;
    t.after(() => {
      if (told === undefined) delete process.env.STOWAGE_CHILD_SCRIPTS_FROM;
      else process.env.STOWAGE_CHILD_SCRIPTS_FROM = told;
    });
    delete process.env.STOWAGE_CHILD_SCRIPTS_FROM;
    assert.equal(await childScriptBeside(extractModule, 'extract-child'), tsChild);
    process.env.STOWAGE_CHILD_SCRIPTS_FROM = 'src';
    assert.equal(await childScriptBeside(extractModule, 'extract-child'), tsChild);
  });

  test('the built twin only while nothing under src/ is newer: an edit anywhere, or a deleted file, means the .ts', async () => {
    // A tree of its own, with its times set: the real src/ may be edited while this runs.
    const root = await mkdtemp(path.join(dir, 'twin-'));
    const src = path.join(root, 'src');
    await mkdir(path.join(src, 'sandbox'), { recursive: true });
    await mkdir(path.join(root, 'dist', 'sandbox'), { recursive: true });
    const source = path.join(src, 'sandbox', 'child.ts');
    const other = path.join(src, 'other.ts');
    const twin = path.join(root, 'dist', 'sandbox', 'child.js');
    await writeFile(source, 'export {};\n');
    await writeFile(other, 'export {};\n');
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);
    for (const at of [source, other, path.join(src, 'sandbox'), src]) await utimes(at, ago(100), ago(100));

    assert.equal(await freshBuiltTwin(source, src), null, 'nothing built yet');
    await writeFile(twin, 'export {};\n');
    await utimes(twin, ago(50), ago(50));
    assert.equal(await freshBuiltTwin(source, src), twin, 'built after the last edit');
    assert.equal(await freshBuiltTwin(path.join(root, 'elsewhere.ts'), src), null, 'not a file of src/');

    await utimes(other, ago(10), ago(10));
    assert.equal(await freshBuiltTwin(source, src), null, 'another file edited since the build');
    await utimes(other, ago(100), ago(100));
    assert.equal(await freshBuiltTwin(source, src), twin);
    await rm(other);
    assert.equal(await freshBuiltTwin(source, src), null, 'a file deleted since the build');
  });
});
