/**
 * The child process of convertToGlb (convert.ts): converts one file and exits. Started by fork with
 * `inputPath format outputPath`; answers with one ChildReply over IPC. Living in its own process is the
 * point: OpenCascade on a hostile file may loop, trap or grow its WASM heap to gigabytes, and the parent
 * can kill this process for it without losing anything of its own.
 */
import { readFile, writeFile } from 'node:fs/promises';
import v8 from 'node:v8';
import { ownPeakRssMb } from '../sandbox/memory.js';
import { PreviewError, type PreviewFailure } from './errors.js';
import type { CadFormat } from './formats.js';
import type { Bbox } from './model.js';
import { toGlb } from './to-glb.js';

export type ChildReply =
  | { ok: true; meshes: number; triangles: number; bbox: Bbox | null; unit: string | null; maxRssMb: number | null }
  /** `system`: the failure is the machine's (disk full, permissions), not the file's; the parent rethrows it as a plain Error. */
  | { ok: false; reason: PreviewFailure | 'system'; message: string; maxRssMb: number | null };

const send = process.send?.bind(process);
if (!send) {
  console.error('convert-child is started by convertToGlb (src/cad/convert.ts) with an IPC channel, not by hand');
  process.exit(2);
}
// A parent that died (or gave up on us) cannot read the answer: stop at the next chance.
process.on('disconnect', () => process.exit(1));

// V8 compiles WASM twice: quickly (Liftoff), then again optimised (TurboFan) in the background. For a
// process that lives for one file, the second pass costs more than it saves: measured on OpenCascade's
// 12 MB module, it took a small STEP from 0.7 s to 2.4 s and added ~100 MiB, and made an 11.6 MB STEP no
// faster. Set here, before the module is compiled; a V8 without the flag only warns on stderr.
v8.setFlagsFromString('--liftoff-only');

const [inputPath, format, outputPath] = process.argv.slice(2) as [string, CadFormat, string];

let reply: ChildReply;
try {
  const { glb, meshes, triangles, bbox, unit } = await toGlb(await readFile(inputPath), format);
  await writeFile(outputPath, glb);
  reply = { ok: true, meshes, triangles, bbox, unit, maxRssMb: ownPeakRssMb() };
} catch (error) {
  reply = { ok: false, ...classify(error), maxRssMb: ownPeakRssMb() };
}
send(reply, () => process.exit(0));

function classify(error: unknown): { reason: PreviewFailure | 'system'; message: string } {
  if (error instanceof PreviewError) return { reason: error.reason, message: error.message };
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'ERR_FS_FILE_TOO_LARGE') return { reason: 'unsupported', message: 'the file is larger than the 2 GiB a preview can read' };
  if (error instanceof RangeError && /allocation failed|invalid (typed )?array length/i.test(message)) {
    return { reason: 'memory_limit', message: `out of memory building the preview (${message})` };
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { reason: 'system', message }; // errno codes, not ERR_*
  return { reason: 'crashed', message: `the converter failed: ${error instanceof Error ? error.message : String(error)}` };
}
