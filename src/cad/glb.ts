/**
 * A Model to GLB bytes with glTF Transform. CAD models are Z-up in millimetres; glTF is Y-up in metres,
 * so one root node turns and scales the whole model and the vertex data stays as read.
 */
import { Document, Logger, NodeIO, type Buffer as GltfBuffer, type Material, type Mesh, type Node } from '@gltf-transform/core';
import type { Bbox, Model, ModelMesh, ModelNode, Rgb } from './model.js';
import { modelBounds, triangleCount } from './model.js';

const Z_UP_TO_Y_UP: [number, number, number, number] = [-Math.SQRT1_2, 0, 0, Math.SQRT1_2]; // −90° about X
const MM_TO_M: [number, number, number] = [0.001, 0.001, 0.001];
const DEFAULT_GREY: Rgb = [0.7, 0.7, 0.72];

export interface GlbOutput {
  glb: Uint8Array;
  meshes: number;
  triangles: number;
  /** The box of the model's vertices in its file's own units and axes (before the GLB's turn and scale); null when unknown. */
  bbox: Bbox | null;
}

export async function modelToGlb(model: Model): Promise<GlbOutput> {
  const document = new Document();
  document.setLogger(new Logger(Logger.Verbosity.ERROR));
  const buffer = document.createBuffer();
  const materials = new Map<string, Material>();
  const materialFor = (color: Rgb) => {
    const key = color.join(',');
    let material = materials.get(key);
    if (!material) {
      // Matte and double-sided: CAD surfaces have no material data worth showing, and STL winding is often inconsistent.
      material = document
        .createMaterial(`rgb(${key})`)
        .setBaseColorFactor([color[0], color[1], color[2], 1])
        .setMetallicFactor(0)
        .setRoughnessFactor(0.6)
        .setDoubleSided(true);
      materials.set(key, material);
    }
    return material;
  };

  const meshes = model.meshes.map((mesh) => (triangleCount(mesh) > 0 ? buildMesh(document, buffer, mesh, materialFor) : null));
  const scene = document.createScene('preview');
  const root = document.createNode('model').setRotation(Z_UP_TO_Y_UP).setScale(MM_TO_M);
  root.addChild(buildNode(document, model.root, meshes));
  scene.addChild(root);
  document.getRoot().setDefaultScene(scene);

  const io = new NodeIO().setLogger(new Logger(Logger.Verbosity.ERROR));
  const glb = await io.writeBinary(document);
  return {
    glb,
    meshes: meshes.filter(Boolean).length,
    triangles: model.meshes.reduce((sum, mesh) => sum + triangleCount(mesh), 0),
    bbox: modelBounds(model),
  };
}

function buildMesh(document: Document, buffer: GltfBuffer, mesh: ModelMesh, materialFor: (color: Rgb) => Material): Mesh {
  const out = document.createMesh(mesh.name);
  const position = document.createAccessor().setType('VEC3').setArray(mesh.positions).setBuffer(buffer);
  const normal = mesh.normals && document.createAccessor().setType('VEC3').setArray(mesh.normals).setBuffer(buffer);
  // Parts of one colour share a primitive; all primitives share the vertex accessors.
  const byColor = new Map<string, { color: Rgb; ranges: { start: number; count: number }[] }>();
  for (const part of mesh.parts) {
    const color = part.color ?? mesh.color ?? DEFAULT_GREY;
    const key = color.join(',');
    const group = byColor.get(key) ?? { color, ranges: [] };
    group.ranges.push(part);
    byColor.set(key, group);
  }
  const vertexCount = mesh.positions.length / 3;
  for (const { color, ranges } of byColor.values()) {
    const primitive = document.createPrimitive().setAttribute('POSITION', position).setMaterial(materialFor(color));
    if (normal) primitive.setAttribute('NORMAL', normal);
    const indices = mesh.indices ? gather(mesh.indices, ranges, vertexCount) : wholeList(ranges, vertexCount);
    if (indices) primitive.setIndices(document.createAccessor().setType('SCALAR').setArray(indices).setBuffer(buffer));
    out.addPrimitive(primitive);
  }
  return out;
}

/** The index ranges of one colour in one array; 16-bit when the vertices allow, which halves the index data. */
function gather(indices: Uint32Array, ranges: { start: number; count: number }[], vertexCount: number): Uint16Array | Uint32Array {
  const total = ranges.reduce((sum, range) => sum + range.count, 0);
  const out = vertexCount <= 0xffff ? new Uint16Array(total) : new Uint32Array(total);
  let at = 0;
  for (const { start, count } of ranges) {
    out.set(indices.subarray(start, start + count), at);
    at += count;
  }
  return out;
}

/** A triangle list without indices stays without them when it is drawn whole (STL): indices would add a third. */
function wholeList(ranges: { start: number; count: number }[], vertexCount: number): Uint32Array | null {
  if (ranges.length === 1 && ranges[0].start === 0 && ranges[0].count === vertexCount) return null;
  const total = ranges.reduce((sum, range) => sum + range.count, 0);
  const out = new Uint32Array(total);
  let at = 0;
  for (const { start, count } of ranges) for (let i = 0; i < count; i++) out[at++] = start + i;
  return out;
}

/** A glTF node holds one mesh, so an OpenCascade node with several gets a child node for each. */
function buildNode(document: Document, node: ModelNode, meshes: (Mesh | null)[]): Node {
  const out = document.createNode(node.name);
  const own = node.meshes.map((i) => meshes[i]).filter((mesh): mesh is Mesh => Boolean(mesh));
  if (own.length === 1) out.setMesh(own[0]);
  else for (const mesh of own) out.addChild(document.createNode(mesh.getName()).setMesh(mesh));
  for (const child of node.children) out.addChild(buildNode(document, child, meshes));
  return out;
}
