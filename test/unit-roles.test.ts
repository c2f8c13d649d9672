/**
 * The role a dataset gets from its file name when none is given (roleFor): `cad_3d` for 3D CAD,
 * `drawing_2d` for drawings, else `other` — what a client filtering a revision's datasets relies on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cadFormatOf } from '../src/cad/formats.js';
import { roleFor } from '../src/modules/datasets/roles.js';
import { firstPassOnly } from './helpers/ci-pass.js';

describe('roleFor', { skip: firstPassOnly }, () => {
  const cases: [string, ReturnType<typeof roleFor>][] = [
    // The formats SPEC names, and the native formats of the common CAD systems.
    ['bracket.step', 'cad_3d'],
    ['bracket.stp', 'cad_3d'],
    ['bracket.iges', 'cad_3d'],
    ['bracket.igs', 'cad_3d'],
    ['bracket.stl', 'cad_3d'],
    ['bracket.brep', 'cad_3d'],
    ['bracket.glb', 'cad_3d'],
    ['bracket.gltf', 'cad_3d'],
    ['bracket.3mf', 'cad_3d'],
    ['bracket.x_t', 'cad_3d'],
    ['bracket.sldprt', 'cad_3d'],
    ['assembly.sldasm', 'cad_3d'],
    ['bracket.CATPart', 'cad_3d'],
    ['bracket.ipt', 'cad_3d'],
    ['drawing.pdf', 'drawing_2d'],
    ['drawing.dxf', 'drawing_2d'],
    ['drawing.dwg', 'drawing_2d'],
    ['drawing.slddrw', 'drawing_2d'],
    ['drawing.CATDrawing', 'drawing_2d'],
    ['notes.txt', 'other'],
    ['photo.jpg', 'other'],
    ['bracket.step.zip', 'other'],
    ['README', 'other'],
    ['', 'other'],
    ['bracket.', 'other'],
  ];
  for (const [filename, role] of cases) {
    it(`${JSON.stringify(filename)} is ${role}`, () => assert.equal(roleFor(filename), role));
  }

  it('ignores the case of the extension', () => {
    assert.equal(roleFor('BRACKET.STEP'), 'cad_3d');
    assert.equal(roleFor('Drawing.Pdf'), 'drawing_2d');
  });

  it('reads the extension past a version number CAD systems append (Creo: bracket.prt.3)', () => {
    assert.equal(roleFor('bracket.prt.3'), 'cad_3d');
    assert.equal(roleFor('assembly.asm.12'), 'cad_3d');
    assert.equal(roleFor('drawing.drw.2'), 'drawing_2d');
    assert.equal(roleFor('notes.txt.4'), 'other');
  });

  it('judges the last extension only: a dot in the name is not an extension', () => {
    assert.equal(roleFor('v1.2 bracket.step'), 'cad_3d');
    assert.equal(roleFor('bracket.pdf.txt'), 'other');
    assert.equal(roleFor('drawing.step.pdf'), 'drawing_2d');
  });

  it("every file a preview can be made from is cad_3d, so a part's 3D datasets include all that preview", () => {
    const extension = fc.constantFrom('step', 'stp', 'iges', 'igs', 'brep', 'brp', 'stl', 'gltf', 'glb');
    const base = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[./\\]/.test(s));
    fc.assert(
      fc.property(base, extension, fc.boolean(), (name, ext, upper) => {
        const filename = `${name}.${upper ? ext.toUpperCase() : ext}`;
        assert.notEqual(cadFormatOf(filename), null, `${filename} gets a preview`);
        assert.equal(roleFor(filename), 'cad_3d', filename);
      }),
    );
  });

  it('answers one of the three roles for any name', () => {
    fc.assert(fc.property(fc.string(), (filename) => assert.ok(['cad_3d', 'drawing_2d', 'other'].includes(roleFor(filename)))));
  });
});
