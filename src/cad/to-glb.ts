/** One model's bytes to GLB bytes, in this process: what the child runs, and what a test can call directly. */
import type { CadFormat } from './formats.js';
import { modelToGlb, type GlbOutput } from './glb.js';
import { checkGlb, gltfToGlb } from './gltf.js';
import { readCad } from './occt.js';
import { readStl } from './stl.js';

export async function toGlb(bytes: Uint8Array, format: CadFormat): Promise<GlbOutput> {
  switch (format) {
    case 'step':
    case 'iges':
    case 'brep':
      return modelToGlb(await readCad(bytes, format));
    case 'stl':
      return modelToGlb(readStl(bytes));
    case 'gltf':
      return gltfToGlb(bytes);
    case 'glb':
      return checkGlb(bytes);
  }
}
