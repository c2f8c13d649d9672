/** One model's bytes to GLB bytes, in this process: what the child runs, and what a test can call directly. */
import type { CadFormat } from './formats.js';
import { modelToGlb, type GlbOutput } from './glb.js';
import { checkGlb, gltfToGlb } from './gltf.js';
import { readCad } from './occt.js';
import { readStl } from './stl.js';

export interface ToGlbOutput extends GlbOutput {
  /**
   * The unit of `bbox`: 'mm' for STEP and IGES (OpenCascade converts the lengths the file declares, in
   * whatever unit, to millimetres; occt-import-js does not say which unit the file used), 'm' for glTF
   * (metres by the specification), null for STL and BREP, which carry no unit.
   */
  unit: string | null;
}

export async function toGlb(bytes: Uint8Array, format: CadFormat): Promise<ToGlbOutput> {
  switch (format) {
    case 'step':
    case 'iges':
      return { ...(await modelToGlb(await readCad(bytes, format))), unit: 'mm' };
    case 'brep':
      return { ...(await modelToGlb(await readCad(bytes, format))), unit: null };
    case 'stl':
      return { ...(await modelToGlb(readStl(bytes))), unit: null };
    case 'gltf':
      return { ...(await gltfToGlb(bytes)), unit: 'm' };
    case 'glb':
      return { ...checkGlb(bytes), unit: 'm' };
  }
}
