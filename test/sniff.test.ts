import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchesType, sniffContentType } from '../src/content/sniff.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const sniff = (bytes: Buffer | string, size?: number) => {
  const buffer = Buffer.from(bytes);
  return sniffContentType(buffer, size ?? buffer.length);
};

function binaryStl(triangles: number): Buffer {
  const buffer = Buffer.alloc(84 + triangles * 50);
  buffer.write('binary stl exported by a CAD tool', 0, 'latin1');
  buffer.writeUInt32LE(triangles, 80);
  for (let i = 0; i < triangles; i++) buffer.writeFloatLE(1.5 * i, 84 + i * 50 + 12);
  return buffer;
}

describe('content sniffing', { skip: firstPassOnly }, () => {
  it('knows the CAD formats by their bytes', async () => {
    assert.equal(await sniff('ISO-10303-21;\nHEADER;\n'), 'model/step');
    assert.equal(await sniff('\r\n  ISO-10303-21;\r\n'), 'model/step');
    const igesStart = `${'Part exported from a CAD system'.padEnd(72)}S      1\n`;
    assert.equal(await sniff(igesStart + `${','.padEnd(72)}G      1\n`), 'model/iges');
    assert.equal(await sniff('solid cube\n  facet normal 0 0 1\n    outer loop\n'), 'model/stl');
    assert.equal(await sniff(binaryStl(12)), 'model/stl');
    assert.equal(await sniff('AC1032\u0000\u0000\u0000\u0000\u0000\u0000\u0001'), 'image/vnd.dwg');
    assert.equal(await sniff('  0\nSECTION\n  2\nHEADER\n'), 'image/vnd.dxf');
  });

  it('does not call a binary STL one whose size does not fit its triangle count', async () => {
    const stl = binaryStl(12);
    assert.notEqual(await sniff(stl, stl.length + 1), 'model/stl');
  });

  it('does not take prose that starts with "solid" for an STL', async () => {
    assert.equal(await sniff('solid arguments were made\n'), 'text/plain');
  });

  it('falls back to the generic signatures, then to text', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
    assert.equal(await sniff(png), 'image/png');
    assert.equal(await sniff('%PDF-1.7\n%âãÏÓ\n'), 'application/pdf');
    assert.equal(await sniff('{"a": [1, 2]}'), 'application/json');
    assert.equal(await sniff('part,qty\nbolt,4\n'), 'text/plain');
    assert.equal(await sniff('größe: 3 µm'), 'text/plain');
    // A sample cut in the middle of a multi-byte character is still text.
    assert.equal(await sniff(Buffer.from('größe').subarray(0, 3)), 'text/plain');
    assert.equal(await sniff(Buffer.from([0, 1, 2, 3, 0xff, 0xfe])), null);
    assert.equal(await sniff(Buffer.alloc(0)), null);
  });

  it('matches policy entries exactly or by type/*', () => {
    assert.ok(matchesType('application/x-elf', ['application/x-elf']));
    assert.ok(matchesType('image/png', ['image/*']));
    assert.ok(!matchesType('image/png', ['image/jpeg', 'application/*']));
    assert.ok(!matchesType('imagex/png', ['image/*']));
  });
});
