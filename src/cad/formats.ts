/** The 3D formats a preview can be made from, told apart by file name alone. */
export const CAD_FORMATS = ['step', 'iges', 'brep', 'stl', 'gltf', 'glb'] as const;
export type CadFormat = (typeof CAD_FORMATS)[number];

const BY_EXTENSION: Readonly<Record<string, CadFormat>> = {
  step: 'step',
  stp: 'step',
  iges: 'iges',
  igs: 'iges',
  brep: 'brep',
  brp: 'brep',
  stl: 'stl',
  gltf: 'gltf',
  glb: 'glb',
};

/**
 * The format of a file by its extension, case-insensitive; null when it is not one we preview. The
 * bytes are not looked at: a wrong extension ends in the converter's 'unreadable', which is the answer
 * the uploader needs anyway.
 */
export function cadFormatOf(filename: string): CadFormat | null {
  const base = filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return null; // ".step" alone is a hidden file with no name, not a model
  const extension = base.slice(dot + 1).toLowerCase();
  return Object.hasOwn(BY_EXTENSION, extension) ? BY_EXTENSION[extension] : null;
}
