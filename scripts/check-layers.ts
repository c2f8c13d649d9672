/**
 * The import-direction rule of src/: every file sits on a floor, found from its path, and imports only
 * files of its own floor or lower, so plumbing never depends on the features built on it. A file on
 * no floor is a violation too, so a new folder gets its place decided rather than drifting in, and so
 * is an import cycle between files, as no order of loading or reading it starts anywhere.
 *
 *   node --import tsx scripts/check-layers.ts [root]     (npm run lint:layers) prints each violation, exits 1 if any
 *
 * Imports are read with TypeScript's own pre-processor (import, export … from, import(), require),
 * type-only ones included: a type still ties a file to the floor it comes from.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/** Path prefixes (a folder ends in '/') and their floor; the first that matches wins. */
export const FLOORS: readonly (readonly [prefix: string, floor: number])[] = [
  // 0 foundation: needs nothing of Stowage's own
  ['src/errors.ts', 0],
  ['src/ids.ts', 0],
  ['src/config.ts', 0],
  ['src/content/', 0],
  ['src/secrets.ts', 0],
  ['src/threadpool.ts', 0],
  ['src/metrics.ts', 0],
  ['src/shutdown.ts', 0],
  ['src/storage-limits.ts', 0],
  ['src/cad/', 0],
  ['src/sandbox/', 0], // child processes held to time and memory limits
  ['src/readings/', 0], // what a file holds, extracted in the sandbox
  ['src/previews/', 0], // the old name of src/cad/
  // 1 storage
  ['src/db/', 1],
  ['src/blobs/', 1],
  // 2 who may do what; the job machinery
  ['src/access/', 2],
  ['src/jobs/', 2],
  // 3 Fastify plumbing
  ['src/http/', 3],
  // 4 features
  ['src/modules/', 4],
  // 5 composition root
  ['src/app.ts', 5],
  ['src/modules.ts', 5],
  ['src/runtime.ts', 5],
  ['src/bootstrap.ts', 5],
  // 6 the command line
  ['src/commands/', 6],
  ['src/cli.ts', 6],
];

/** Imports with a name of their own, beyond "no import upward". */
const NAMED_RULES: readonly { from: string; to: string; rule: string }[] = [
  { from: 'src/jobs/', to: 'src/modules/', rule: 'jobs imports no module: job handlers come in from the composition root' },
  { from: 'src/blobs/', to: 'src/http/', rule: 'blobs does not import http' },
];

export type LayerViolation =
  | { kind: 'unplaced'; file: string; message: string }
  | { kind: 'upward' | 'unresolved' | 'outside'; file: string; imports: string; message: string }
  | { kind: 'cycle'; file: string; cycle: string[]; message: string };

export interface LayerReport {
  files: number;
  imports: number;
  violations: LayerViolation[];
}

export function floorOf(file: string): number | null {
  for (const [prefix, floor] of FLOORS) {
    if (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix) return floor;
  }
  return null;
}

/** Checks every .ts file under `root`/src; paths in the report are relative to `root`, with '/'. */
export function checkLayers(root: string): LayerReport {
  const files = tsFilesUnder(root, 'src');
  const violations: LayerViolation[] = [];
  const graph = new Map<string, string[]>();
  let imports = 0;

  for (const file of files) {
    const floor = floorOf(file);
    if (floor === null)
      violations.push({ kind: 'unplaced', file, message: `${file} is on no floor: place its folder in scripts/check-layers.ts` });
    const targets: string[] = [];
    graph.set(file, targets);
    for (const specifier of importsOf(path.join(root, file))) {
      if (!specifier.startsWith('.')) continue; // packages and node: built-ins
      imports++;
      const target = resolveImport(root, file, specifier);
      if (!target) {
        violations.push({ kind: 'unresolved', file, imports: specifier, message: `${file} imports ${specifier}, which is no file` });
        continue;
      }
      if (!target.startsWith('src/')) {
        violations.push({ kind: 'outside', file, imports: target, message: `${file} imports ${target}, outside src/` });
        continue;
      }
      targets.push(target);
      const targetFloor = floorOf(target);
      if (floor === null || targetFloor === null || targetFloor <= floor) continue;
      const named = NAMED_RULES.find((r) => file.startsWith(r.from) && target.startsWith(r.to));
      const why = named ? named.rule : 'a file imports only its own floor or lower';
      violations.push({
        kind: 'upward',
        file,
        imports: target,
        message: `${file} (floor ${floor}) imports ${target} (floor ${targetFloor}): ${why}`,
      });
    }
  }

  for (const cycle of cyclesOf(graph)) {
    violations.push({ kind: 'cycle', file: cycle[0]!, cycle, message: `import cycle: ${[...cycle, cycle[0]].join(' → ')}` });
  }
  return { files: files.length, imports, violations };
}

function tsFilesUnder(root: string, dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) found.push(...tsFilesUnder(root, relative));
    else if (entry.name.endsWith('.ts')) found.push(relative);
  }
  return found.sort();
}

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** NodeNext spelling: './x.js' is ./x.ts; a folder import means its index.ts. */
function resolveImport(root: string, from: string, specifier: string): string | null {
  const base = path.posix.join(path.posix.dirname(from), specifier);
  const stem = base.replace(/\.(c|m)?js$/, '');
  const candidates = [`${stem}.ts`, `${stem}.d.ts`, `${stem}.mts`, `${stem}.cts`, base, `${base}/index.ts`];
  for (const candidate of candidates) {
    const full = path.join(root, candidate);
    if (existsSync(full) && statSync(full).isFile()) return candidate;
  }
  return null;
}

/**
 * One cycle per knot of files that reach one another (Tarjan's strongly connected components): the
 * shortest way round from its first file in path order, so each knot is reported once, the same way.
 */
function cyclesOf(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const knots: string[][] = [];
  let next = 0;

  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const knot: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        knot.push(member);
      } while (member !== node);
      const selfImport = knot.length === 1 && (graph.get(node) ?? []).includes(node);
      if (knot.length > 1 || selfImport) knots.push(knot.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);

  return knots.sort((a, b) => a[0]!.localeCompare(b[0]!)).map((knot) => shortestCycle(graph, new Set(knot), knot[0]!));
}

/** Breadth-first from `start` back to itself, staying inside the knot. */
function shortestCycle(graph: Map<string, string[]>, knot: Set<string>, start: string): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    for (const target of [...(graph.get(node) ?? [])].sort()) {
      if (!knot.has(target)) continue;
      if (target === start) {
        const cycle = [node];
        while (cycle[0] !== start) cycle.unshift(cameFrom.get(cycle[0]!)!);
        return cycle;
      }
      if (!cameFrom.has(target)) {
        cameFrom.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start];
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..'));
  const started = performance.now();
  const report = checkLayers(root);
  const ms = Math.round(performance.now() - started);
  for (const violation of report.violations) console.log(violation.message);
  console.log(
    `${report.violations.length} layer violation(s) in ${report.files} files (${report.imports} relative imports), checked in ${ms} ms`,
  );
  process.exitCode = report.violations.length ? 1 : 0;
}
