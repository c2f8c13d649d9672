/**
 * glTF in, GLB out. A GLB is already what a viewer loads, so it is checked and kept byte for byte; a
 * .gltf is packed into one. Neither may point outside itself: an uploaded file naming "../../x.bin" or
 * "/etc/passwd" as a buffer must not make the server read its own disk.
 */
import { Logger, NodeIO } from '@gltf-transform/core';
import { PreviewError } from './errors.js';
import type { GlbOutput } from './glb.js';

const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a; // "JSON"

interface GltfJson {
  asset?: { version?: string };
  meshes?: { primitives?: { attributes?: Record<string, number>; indices?: number; mode?: number }[] }[];
  accessors?: { count?: number }[];
  buffers?: { uri?: string }[];
  images?: { uri?: string }[];
  extensionsRequired?: string[];
}

/** The GLB as uploaded, after its JSON says it is glTF 2.0 with triangles and no outside references. */
export function checkGlb(bytes: Uint8Array): GlbOutput {
  const json = glbJson(bytes);
  const { meshes, triangles } = countTriangles(json, 'GLB');
  return { glb: bytes, meshes, triangles };
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
