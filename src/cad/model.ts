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

/** An axis-aligned box, in the coordinates of the model as its file gives them. */
export interface Bbox {
  min: [number, number, number];
  max: [number, number, number];
}

/** Grows a box point by point; `result` is null until a finite point came. */
export class BoundsBuilder {
  private readonly min = [Infinity, Infinity, Infinity];
  private readonly max = [-Infinity, -Infinity, -Infinity];

  add(x: number, y: number, z: number): void {
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) return;
    if (x < this.min[0]) this.min[0] = x;
    if (y < this.min[1]) this.min[1] = y;
    if (z < this.min[2]) this.min[2] = z;
    if (x > this.max[0]) this.max[0] = x;
    if (y > this.max[1]) this.max[1] = y;
    if (z > this.max[2]) this.max[2] = z;
  }

  /**
   * The box, each figure cut to 7 significant digits: the vertices are 32-bit floats, so 0.1 mm read
   * as 0.10000000149 would be noise, not precision.
   */
  result(): Bbox | null {
    if (this.min[0] === Infinity) return null;
    const round = (v: number) => Number(v.toPrecision(7)) + 0; // + 0: no -0 in JSON
    return {
      min: [round(this.min[0]), round(this.min[1]), round(this.min[2])],
      max: [round(this.max[0]), round(this.max[1]), round(this.max[2])],
    };
  }
}

/**
 * The box of every vertex a triangle of the model uses, in the reader's units and axes: OpenCascade
 * bakes each shape's placement into its vertices, and STL has none, so no node transform applies.
 */
export function modelBounds(model: Model): Bbox | null {
  const bounds = new BoundsBuilder();
  for (const mesh of model.meshes) {
    const p = mesh.positions;
    if (mesh.indices) {
      for (const i of mesh.indices) bounds.add(p[i * 3], p[i * 3 + 1], p[i * 3 + 2]);
    } else {
      for (let i = 0; i + 2 < p.length; i += 3) bounds.add(p[i], p[i + 1], p[i + 2]);
    }
  }
  return bounds.result();
}
