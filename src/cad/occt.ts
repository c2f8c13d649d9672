/**
 * STEP, IGES and BREP through OpenCascade (occt-import-js, a WASM build) to triangles. OpenCascade
 * tessellates the exact geometry itself; we keep its defaults (deflection relative to the model's size)
 * and millimetres, the unit the GLB writer scales from.
 */
import occtimportjs, { type Occt, type OcctMesh, type OcctNode, type OcctResult } from 'occt-import-js';
import { PreviewError } from './errors.js';
import type { MeshPart, Model, ModelMesh, ModelNode, Rgb } from './model.js';

export type OcctFormat = 'step' | 'iges' | 'brep';

const LABEL: Record<OcctFormat, string> = { step: 'STEP', iges: 'IGES', brep: 'BREP' };
const LOG_LINES = 20;

/**
 * OpenCascade's own messages (parse errors with line numbers) are the best explanation of a refused file,
 * so they are kept rather than printed: the last few end up in the PreviewError.
 */
const log: string[] = [];
function remember(text: string) {
  log.push(text);
  if (log.length > LOG_LINES) log.shift();
}

let occt: Promise<Occt> | null = null;
const loadOcct = () => (occt ??= occtimportjs({ print: remember, printErr: remember }));

export async function readCad(bytes: Uint8Array, format: OcctFormat): Promise<Model> {
  const module = await loadOcct();
  log.length = 0;
  let result: OcctResult;
  try {
    result = read(module, bytes, format);
  } catch (error) {
    // An Emscripten abort (malloc failing at the 4 GiB WASM ceiling, a trap) leaves the module unusable;
    // the child exits after this anyway.
    const said = log.join('\n');
    if (/Aborted\(OOM\)|bad_alloc|Cannot enlarge memory/i.test(said)) {
      throw new PreviewError('memory_limit', `OpenCascade ran out of WASM memory reading this ${LABEL[format]} file`);
    }
    throw new PreviewError('crashed', `OpenCascade failed on this ${LABEL[format]} file: ${String(error)}${diagnostics(' — ')}`);
  }
  if (!result.success || !result.meshes || !result.root) {
    throw new PreviewError('unreadable', `OpenCascade could not read this as a ${LABEL[format]} file${diagnostics(': ')}`);
  }
  const root = toModelNode(result.root);
  const meshes = result.meshes.map(toModelMesh);
  result = { success: true }; // let the number arrays go before the GLB is built
  if (!meshes.some((mesh) => mesh.indices!.length > 0)) {
    throw new PreviewError('empty_model', `the ${LABEL[format]} file was read but holds no surfaces to show${diagnostics(' — ')}`);
  }
  return { meshes, root };
}

function read(module: Occt, bytes: Uint8Array, format: OcctFormat): OcctResult {
  switch (format) {
    case 'step':
      return module.ReadStepFile(bytes, null);
    case 'iges':
      return module.ReadIgesFile(bytes, null);
    case 'brep':
      return module.ReadBrepFile(bytes, null);
  }
}

function diagnostics(lead: string): string {
  const lines = log
    .map((line) => line.replace(/^[*\s]+|[*\s]+$/g, ''))
    .filter(Boolean)
    .slice(-3);
  const text = lines.join('; ');
  return text ? `${lead}${text.length > 400 ? `${text.slice(0, 400)}…` : text}` : '';
}

function toModelMesh(mesh: OcctMesh, index: number): ModelMesh {
  const positions = Float32Array.from(mesh.attributes.position.array);
  const normalArray = mesh.attributes.normal?.array;
  return {
    name: mesh.name || `mesh ${index + 1}`,
    positions,
    normals: normalArray && normalArray.length === positions.length ? Float32Array.from(normalArray) : null,
    indices: Uint32Array.from(mesh.index.array),
    color: mesh.color ?? null,
    parts: facesToParts(mesh),
  };
}

/**
 * OpenCascade colours faces one by one (brep_faces, triangle ranges in order); neighbouring faces of one
 * colour become one part, so a GLB has a primitive per colour run rather than per face.
 */
function facesToParts(mesh: OcctMesh): MeshPart[] {
  const triangles = mesh.index.array.length / 3;
  const parts: MeshPart[] = [];
  const push = (first: number, last: number, color: Rgb | null) => {
    if (last < first) return;
    const previous = parts.at(-1);
    if (previous && previous.start + previous.count === first * 3 && sameColor(previous.color, color))
      previous.count += (last - first + 1) * 3;
    else parts.push({ start: first * 3, count: (last - first + 1) * 3, color });
  };
  let next = 0;
  for (const face of [...(mesh.brep_faces ?? [])].sort((a, b) => a.first - b.first)) {
    const first = Math.max(face.first, next);
    const last = Math.min(face.last, triangles - 1);
    push(next, first - 1, null); // triangles no face claims
    push(first, last, face.color);
    next = Math.max(next, last + 1);
  }
  push(next, triangles - 1, null);
  return parts;
}

function sameColor(a: Rgb | null, b: Rgb | null): boolean {
  return a === b || (a !== null && b !== null && a[0] === b[0] && a[1] === b[1] && a[2] === b[2]);
}

function toModelNode(node: OcctNode): ModelNode {
  return { name: node.name, meshes: [...node.meshes], children: node.children.map(toModelNode) };
}
