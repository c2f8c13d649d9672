/**
 * The triangles of a model between a reader (OpenCascade, STL) and the GLB writer, in the reader's
 * units (millimetres) and axes (Z up). Typed arrays, so a few million triangles stay a few hundred MB.
 */
export type Rgb = readonly [number, number, number];

/** A run of the mesh's triangles drawn in one colour; start and count are in index (or vertex) units. */
export interface MeshPart {
  start: number;
  count: number;
  /** Linear RGB in 0..1; null takes the mesh's colour, then the default grey. */
  color: Rgb | null;
}

export interface ModelMesh {
  name: string;
  positions: Float32Array;
  /** Null lets the viewer compute flat normals, as glTF requires it to. */
  normals: Float32Array | null;
  /** Null draws the positions as a plain triangle list. */
  indices: Uint32Array | null;
  color: Rgb | null;
  parts: MeshPart[];
}

export interface ModelNode {
  name: string;
  meshes: number[];
  children: ModelNode[];
}

export interface Model {
  meshes: ModelMesh[];
  root: ModelNode;
}

export function triangleCount(mesh: ModelMesh): number {
  return Math.floor((mesh.indices ? mesh.indices.length : mesh.positions.length / 3) / 3);
}
