/**
 * The child process of extractReading (extract.ts): reads one file and exits. Started by fork with
 * `inputPath kind workDir`; answers with one ChildReply over IPC. Living in its own process is the
 * point: a hostile file may make a parser loop, trap, or grow native memory to gigabytes, and the
 * parent can kill this process for it without losing anything of its own.
 */
import { ownPeakRssMb } from '../sandbox/memory.js';
import { classify, extractHere } from './extract-here.js';
import type { Extraction, ReadingFailure, ReadingKind } from './reading.js';

export type ChildReply =
  | { ok: true; extraction: Extraction; maxRssMb: number | null }
  /** `system`: the failure is the machine's (disk full, permissions), not the file's; the parent rethrows it as a plain Error. */
  | { ok: false; reason: ReadingFailure | 'system'; message: string; maxRssMb: number | null };

const send = process.send?.bind(process);
if (!send) {
  console.error('extract-child is started by extractReading (src/readings/extract.ts) with an IPC channel, not by hand');
  process.exit(2);
}
// A parent that died (or gave up on us) cannot read the answer: stop at the next chance.
process.on('disconnect', () => process.exit(1));

const [inputPath, kind, workDir] = process.argv.slice(2) as [string, ReadingKind, string];

let reply: ChildReply;
try {
  reply = { ok: true, extraction: await extractHere(inputPath, kind, workDir), maxRssMb: ownPeakRssMb() };
} catch (error) {
  reply = { ok: false, ...classify(error), maxRssMb: ownPeakRssMb() };
}
send(reply, () => process.exit(0));
