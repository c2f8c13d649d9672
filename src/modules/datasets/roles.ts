/** The role a dataset gets when none is given, from its file extension (SPEC: parts, revisions, datasets). */
export type DefaultRole = 'cad_3d' | 'drawing_2d' | 'other';

const CAD_3D = new Set([
  'step',
  'stp',
  'p21',
  'stpz',
  'iges',
  'igs',
  'stl',
  'brep',
  'brp',
  'gltf',
  'glb',
  'obj',
  '3mf',
  'ply',
  'fbx',
  'dae',
  'wrl',
  'vrml',
  '3ds',
  'x_t',
  'x_b',
  'xmt_txt',
  'sat',
  'sab',
  'jt',
  '3dm',
  'f3d',
  'sldprt',
  'sldasm',
  'catpart',
  'catproduct',
  'prt',
  'asm',
  'ipt',
  'iam',
  'par',
  'psm',
  'neu',
]);
const DRAWING_2D = new Set(['pdf', 'dxf', 'dwg', 'slddrw', 'catdrawing', 'idw', 'dft', 'drw']);

// The extension, past a trailing version number as CAD systems write them (bracket.prt.3).
const EXTENSION = /\.([a-z0-9_]+)(?:\.\d+)?$/;

export function roleFor(filename: string): DefaultRole {
  const extension = EXTENSION.exec(filename.toLowerCase())?.[1];
  if (!extension) return 'other';
  if (CAD_3D.has(extension)) return 'cad_3d';
  if (DRAWING_2D.has(extension)) return 'drawing_2d';
  return 'other';
}
