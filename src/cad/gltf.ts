/**
 * glTF in, GLB out. A GLB is already what a viewer loads, so it is checked and kept byte for byte; a
 * .gltf is packed into one. Neither may point outside itself: an uploaded file naming "../../x.bin" or
 * "/etc/passwd" as a buffer must not make the server read its own disk.
 */
import { Logger, NodeIO } from '@gltf-transform/core';
import { PreviewError } from './errors.js';
import type { GlbOutput } from './glb.js';
import { BoundsBuilder, type Bbox } from './model.js';

const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a; // "JSON"

interface GltfJson {
  asset?: { version?: string };
  meshes?: { primitives?: { attributes?: Record<string, number>; indices?: number; mode?: number }[] }[];
  accessors?: { count?: number; min?: number[]; max?: number[]; normalized?: boolean; componentType?: number }[];
  nodes?: GltfNode[];
  scenes?: { nodes?: number[] }[];
  scene?: number;
  buffers?: { uri?: string }[];
  images?: { uri?: string }[];
  extensionsRequired?: string[];
}

/** The GLB as uploaded, after its JSON says it is glTF 2.0 with triangles and no outside references. */
export function checkGlb(bytes: Uint8Array): GlbOutput {
  const json = glbJson(bytes);
  const { meshes, triangles } = countTriangles(json, 'GLB');
  return { glb: bytes, meshes, triangles, bbox: boundsOrNull(json) };
}

export async function gltfToGlb(bytes: Uint8Array): Promise<GlbOutput> {
  let json: GltfJson;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (error) {
    throw new PreviewError('unreadable', `not a glTF file: the JSON does not parse (${(error as Error).message})`);
  }
  requireGltf2(json, 'glTF');
  countTriangles(json, 'glTF'); // refuse an empty model before packing it
  const io = new NodeIO().setLogger(new Logger(Logger.Verbosity.ERROR));
  let glb: Uint8Array;
  try {
    // readJSON decodes data: URIs itself and reads nothing from disk (NodeIO.read would, relative to the file).
    glb = await io.writeBinary(await io.readJSON({ json: json as never, resources: {} }));
  } catch (error) {
    const message = (error as Error).message;
    if (/required extension/i.test(message)) throw new PreviewError('unsupported', `glTF: ${message}`);
    throw new PreviewError('unreadable', `glTF could not be read: ${message}`);
  }
  return checkGlb(glb);
}

function glbJson(bytes: Uint8Array): GltfJson {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 20 || view.getUint32(0, true) !== GLB_MAGIC)
    throw new PreviewError('unreadable', 'not a GLB file: it does not start with "glTF"');
  const version = view.getUint32(4, true);
  if (version !== 2) throw new PreviewError('unsupported', `GLB version ${version}; only glTF 2.0 is previewed`);
  const length = view.getUint32(8, true);
  if (length > bytes.length)
    throw new PreviewError('unreadable', `truncated GLB: its header says ${length} bytes, the file has ${bytes.length}`);
  const jsonLength = view.getUint32(12, true);
  if (view.getUint32(16, true) !== CHUNK_JSON || 20 + jsonLength > length)
    throw new PreviewError('unreadable', 'not a valid GLB: the first chunk is not its JSON');
  let json: GltfJson;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 20, jsonLength).toString('utf8'));
  } catch (error) {
    throw new PreviewError('unreadable', `not a valid GLB: its JSON does not parse (${(error as Error).message})`);
  }
  requireGltf2(json, 'GLB');
  return json;
}

function requireGltf2(json: GltfJson, label: string) {
  if (typeof json !== 'object' || json === null || typeof json.asset?.version !== 'string')
    throw new PreviewError('unreadable', `not a ${label} file: no asset.version`);
  if (!json.asset.version.startsWith('2.'))
    throw new PreviewError('unsupported', `${label} version ${json.asset.version}; only glTF 2.0 is previewed`);
  for (const resource of [...(json.buffers ?? []), ...(json.images ?? [])]) {
    if (typeof resource?.uri === 'string' && !resource.uri.startsWith('data:')) {
      throw new PreviewError(
        'unsupported',
        `${label} refers to a file outside itself ("${resource.uri.slice(0, 100)}"); upload a GLB or a .gltf with embedded data`,
      );
    }
  }
}

/** Triangles as the JSON declares them, so a Draco or meshopt GLB is counted without decoding it. */
function countTriangles(json: GltfJson, label: string): { meshes: number; triangles: number } {
  let triangles = 0;
  for (const mesh of json.meshes ?? []) {
    for (const primitive of mesh.primitives ?? []) {
      const accessor = primitive.indices ?? primitive.attributes?.POSITION;
      const count = (accessor !== undefined && json.accessors?.[accessor]?.count) || 0;
      const mode = primitive.mode ?? 4;
      if (mode === 4) triangles += Math.floor(count / 3);
      else if (mode === 5 || mode === 6) triangles += Math.max(0, count - 2);
    }
  }
  if (triangles === 0) throw new PreviewError('empty_model', `the ${label} file holds no triangles`);
  return { meshes: json.meshes?.length ?? 0, triangles };
}

interface GltfNode {
  children?: number[];
  mesh?: number;
  matrix?: number[];
  translation?: number[];
  rotation?: number[];
  scale?: number[];
}

/** Column-major 4×4, as glTF writes matrices. */
type Mat4 = number[];
const IDENTITY: Mat4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
/** Divisors of normalized integer components (KHR_mesh_quantization), by componentType. */
const NORMALIZED: Readonly<Record<number, number>> = { 5120: 127, 5121: 255, 5122: 32767, 5123: 65535 };

/**
 * The box of the default scene in world space (metres, Y up: glTF's own units and axes), from each
 * POSITION accessor's min and max, which the format requires, through its node's transforms: exact
 * for translated and scaled nodes, the box of the turned box for rotated ones. Nothing is decoded,
 * so a Draco or meshopt GLB has its box too. Null when the file does not declare the bounds.
 */
function boundsOrNull(json: GltfJson): Bbox | null {
  try {
    return sceneBounds(json);
  } catch {
    return null; // a scene graph of the wrong shapes: the preview is still the file as uploaded, only without a box
  }
}

function sceneBounds(json: GltfJson): Bbox | null {
  const nodes = json.nodes ?? [];
  const scene = json.scenes?.[json.scene ?? 0];
  let roots = scene?.nodes;
  if (!roots) {
    const children = new Set(nodes.flatMap((node) => node?.children ?? []));
    roots = nodes.map((_, i) => i).filter((i) => !children.has(i));
  }
  const bounds = new BoundsBuilder();
  let valid = true;
  const seen = new Set<number>(); // a node is in one place of the tree; a cycle or a shared child is a broken file, visited once
  const visit = (index: number, parent: Mat4) => {
    const node = nodes[index];
    if (!node || seen.has(index)) return;
    seen.add(index);
    const world = multiply(parent, localMatrix(node));
    if (node.mesh !== undefined) {
      for (const primitive of json.meshes?.[node.mesh]?.primitives ?? []) {
        const position = primitive.attributes?.POSITION;
        const accessor = position === undefined ? undefined : json.accessors?.[position];
        const box = accessor && accessorBox(accessor);
        if (!box) return void (valid = false);
        for (let corner = 0; corner < 8; corner++) {
          const x = corner & 1 ? box.max[0] : box.min[0];
          const y = corner & 2 ? box.max[1] : box.min[1];
          const z = corner & 4 ? box.max[2] : box.min[2];
          bounds.add(
            world[0] * x + world[4] * y + world[8] * z + world[12],
            world[1] * x + world[5] * y + world[9] * z + world[13],
            world[2] * x + world[6] * y + world[10] * z + world[14],
          );
        }
      }
    }
    for (const child of node.children ?? []) visit(child, world);
  };
  for (const root of roots) visit(root, IDENTITY);
  return valid ? bounds.result() : null;
}

function accessorBox(accessor: NonNullable<GltfJson['accessors']>[number]): Bbox | null {
  const { min, max } = accessor;
  const ok = (v: unknown): v is number[] => Array.isArray(v) && v.length >= 3 && v.slice(0, 3).every((n) => Number.isFinite(n));
  if (!ok(min) || !ok(max)) return null;
  const divisor = accessor.normalized ? (NORMALIZED[accessor.componentType ?? 0] ?? 1) : 1;
  const scale = (v: number) => (divisor === 1 ? v : Math.max(v / divisor, -1));
  return { min: [scale(min[0]), scale(min[1]), scale(min[2])], max: [scale(max[0]), scale(max[1]), scale(max[2])] };
}

function localMatrix(node: GltfNode): Mat4 {
  const finite = (v: unknown, n: number): v is number[] => Array.isArray(v) && v.length === n && v.every((x) => Number.isFinite(x));
  if (finite(node.matrix, 16)) return node.matrix;
  const [tx, ty, tz] = finite(node.translation, 3) ? node.translation : [0, 0, 0];
  const [qx, qy, qz, qw] = finite(node.rotation, 4) ? node.rotation : [0, 0, 0, 1];
  const [sx, sy, sz] = finite(node.scale, 3) ? node.scale : [1, 1, 1];
  // T · R · S, column-major
  return [
    (1 - 2 * (qy * qy + qz * qz)) * sx,
    2 * (qx * qy + qz * qw) * sx,
    2 * (qx * qz - qy * qw) * sx,
    0,
    2 * (qx * qy - qz * qw) * sy,
    (1 - 2 * (qx * qx + qz * qz)) * sy,
    2 * (qy * qz + qx * qw) * sy,
    0,
    2 * (qx * qz + qy * qw) * sz,
    2 * (qy * qz - qx * qw) * sz,
    (1 - 2 * (qx * qx + qy * qy)) * sz,
    0,
    tx,
    ty,
    tz,
    1,
  ];
}

function multiply(a: Mat4, b: Mat4): Mat4 {
  const out = new Array<number>(16);
  for (let column = 0; column < 4; column++) {
    for (let row = 0; row < 4; row++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += a[k * 4 + row] * b[column * 4 + k];
      out[column * 4 + row] = sum;
    }
  }
  return out;
}
