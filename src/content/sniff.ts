import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes the sniffers look at. */
export const SNIFF_BYTES = 64 * 1024;

/**
 * The content type the bytes themselves show: CAD formats first (file-type does not know them),
 * then file-type's signatures, then plain text. null when nothing is recognised.
 */
export async function sniffContentType(head: Buffer, totalSize: number): Promise<string | null> {
  const cad = sniffCad(head, totalSize);
  if (cad) return cad;
  const generic = (await fileTypeFromBuffer(head))?.mime;
  // file-type calls anything starting with "solid" an STL; our check above is the stricter judge.
  if (generic && !GENERIC_MISREADS.has(generic)) return generic;
  return sniffText(head);
}

const GENERIC_MISREADS = new Set(['model/stl']);

export function sniffCad(head: Buffer, totalSize: number): string | null {
  const text = head.subarray(0, 4096).toString('latin1');
  if (/^\s*ISO-10303-21;/.test(text)) return 'model/step';
  if (/^AC10[1-3]\d/.test(text)) return 'image/vnd.dwg';
  if (isIges(text)) return 'model/iges';
  if (/^\s*0\s*\r?\n\s*SECTION\s*\r?\n/.test(text)) return 'image/vnd.dxf';
  if (/^\s*solid[ \t\r\n]/.test(text) && /\bfacet\s+normal\b/.test(text)) return 'model/stl';
  if (isBinaryStl(head, totalSize)) return 'model/stl';
  return null;
}

/** IGES: fixed 80-column records whose column 73 names the section; the first is the Start section. */
function isIges(text: string): boolean {
  const first = text.split(/\r?\n/, 1)[0];
  return first.length >= 73 && first.length <= 82 && first[72] === 'S' && /^\s*\d+\s*$/.test(first.slice(73, 80));
}

/** Binary STL has an 80-byte header, a triangle count, then exactly 50 bytes per triangle. */
function isBinaryStl(head: Buffer, totalSize: number): boolean {
  if (head.length < 84 || totalSize < 84) return false;
  const triangles = head.readUInt32LE(80);
  return triangles > 0 && 84 + triangles * 50 === totalSize;
}

/** UTF-8 without NUL bytes reads as text; a cut multi-byte sequence at the end of the sample is allowed. */
function sniffText(head: Buffer): string | null {
  if (head.length === 0 || head.includes(0)) return null;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(trimIncompleteUtf8(head));
  } catch {
    return null;
  }
  const start = head.subarray(0, 512).toString('utf8').trimStart();
  if (/^[[{]/.test(start)) return 'application/json';
  return 'text/plain';
}

function trimIncompleteUtf8(buffer: Buffer): Buffer {
  let cut = buffer.length;
  for (let i = buffer.length - 1; i >= Math.max(0, buffer.length - 4); i--) {
    const byte = buffer[i];
    if ((byte & 0xc0) === 0x80) continue; // continuation byte
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    if (buffer.length - i < need) cut = i;
    break;
  }
  return buffer.subarray(0, cut);
}

/**
 * Whether a type matches a policy entry: exact, or `type/*`. Parameters (`; charset=utf-8`) and case
 * are no part of the type: `Text/CSV; charset=utf-8` is `text/csv`.
 */
export function matchesType(type: string, patterns: readonly string[]): boolean {
  const essence = mediaTypeEssence(type);
  return patterns.some((p) => p === essence || (p.endsWith('/*') && essence.startsWith(p.slice(0, -1))));
}

/** `type/subtype`, lowercase, without parameters or surrounding spaces. */
export function mediaTypeEssence(type: string): string {
  return type.split(';', 1)[0]!.trim().toLowerCase();
}
