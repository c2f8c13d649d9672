/**
 * STL, binary and ASCII, to a plain triangle list. Our own small reader: the npm ones are unmaintained
 * or built around three.js, and what we need is only the positions in a typed array. STL's facet
 * normals are dropped: they are often wrong, and glTF viewers compute flat normals when none are given.
 */
import { PreviewError } from './errors.js';
import type { Model } from './model.js';

const HEADER_BYTES = 80;
const TRIANGLE_BYTES = 50; // normal (3 × f32), 3 vertices (9 × f32), attribute byte count (u16)

export function readStl(bytes: Uint8Array): Model {
  const positions = isBinaryStl(bytes) ? readBinaryStl(bytes) : readAsciiStl(bytes);
  if (positions.length === 0) throw new PreviewError('empty_model', 'the STL file holds no triangles');
  const vertices = positions.length / 3;
  return {
    meshes: [{ name: 'stl', positions, normals: null, indices: null, color: null, parts: [{ start: 0, count: vertices, color: null }] }],
    root: { name: 'stl', meshes: [0], children: [] },
  };
}

/**
 * Binary when the triangle count in the header matches the file size exactly. The leading "solid" is no
 * test: many binary exporters write it into the free-form 80-byte header.
 */
function isBinaryStl(bytes: Uint8Array): boolean {
  if (bytes.length < HEADER_BYTES + 4) return false;
  const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(HEADER_BYTES, true);
  return HEADER_BYTES + 4 + count * TRIANGLE_BYTES === bytes.length;
}

function readBinaryStl(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(HEADER_BYTES, true);
  const positions = new Float32Array(count * 9);
  for (let t = 0; t < count; t++) {
    const at = HEADER_BYTES + 4 + t * TRIANGLE_BYTES + 12;
    for (let k = 0; k < 9; k++) positions[t * 9 + k] = view.getFloat32(at + k * 4, true);
  }
  requireFinite(positions);
  return positions;
}

/**
 * Reads the numbers after each `vertex` keyword straight from the bytes: an ASCII STL of a few hundred
 * MB would not fit in one JavaScript string. Keywords are matched case-insensitively; facet and loop
 * lines are not checked beyond the vertex count coming out whole.
 */
function readAsciiStl(bytes: Uint8Array): Float32Array {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tokens = tokenizer(text);
  const first = tokens.next();
  if (!first || !isWord(text, first, 'solid')) {
    throw new PreviewError(
      'unreadable',
      bytes.length >= HEADER_BYTES + 4
        ? `not an STL file: neither ASCII (no leading "solid") nor binary (the header's triangle count does not match the ${bytes.length}-byte size)`
        : 'not an STL file: too short for binary STL and no leading "solid"',
    );
  }
  let positions = new Float32Array(Math.max(9, Math.floor(bytes.length / 40)));
  let used = 0;
  let endAfterLastVertex = false;
  for (let token = tokens.next(); token; token = tokens.next()) {
    if (isWord(text, token, 'vertex')) {
      if (used + 3 > positions.length) {
        const grown = new Float32Array(positions.length * 2);
        grown.set(positions);
        positions = grown;
      }
      const vertex = used / 3 + 1;
      for (let k = 0; k < 3; k++) {
        const number = tokens.next();
        const value = number ? Number(text.toString('latin1', number[0], number[1])) : NaN;
        if (!Number.isFinite(value)) throw new PreviewError('unreadable', `ASCII STL: vertex ${vertex} does not have three numbers`);
        positions[used++] = value;
      }
      endAfterLastVertex = false;
    } else if (isWord(text, token, 'endsolid')) {
      endAfterLastVertex = true;
    }
  }
  if (used % 9 !== 0) throw new PreviewError('unreadable', `ASCII STL: ${used / 3} vertices do not make whole triangles (truncated file?)`);
  if (!endAfterLastVertex) throw new PreviewError('unreadable', 'ASCII STL: no "endsolid" after the last facet (truncated file?)');
  return positions.slice(0, used);
}

type Token = [start: number, end: number];

/** Whitespace-separated tokens as byte ranges, without copying. */
function tokenizer(text: Uint8Array): { next(): Token | null } {
  let at = 0;
  return {
    next() {
      while (at < text.length && text[at] <= 0x20) at++;
      if (at >= text.length) return null;
      const start = at;
      while (at < text.length && text[at] > 0x20) at++;
      return [start, at];
    },
  };
}

function isWord(text: Uint8Array, [start, end]: Token, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if ((text[start + i] | 0x20) !== word.charCodeAt(i)) return false;
  return true;
}

/** A NaN or infinite coordinate would poison the GLB's bounds and every viewer's camera framing. */
function requireFinite(values: Float32Array) {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]))
      throw new PreviewError('unreadable', `binary STL: triangle ${Math.floor(i / 9) + 1} has a coordinate that is not a finite number`);
  }
}
