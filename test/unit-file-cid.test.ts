/**
 * The content ids of files (cid.ts): content_cid is the CIDv1 raw sha2-256 of the bytes, built from
 * the stored sha256; a version's cid is the CIDv1 dag-cbor sha2-256 of its record. A cid must never
 * change once answered, so the encoding is pinned by a literal here, and what the writer hashes must
 * be what the verifier hashes after jsonb gave the record back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import * as dagCbor from '@ipld/dag-cbor';
import fc from 'fast-check';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { identity } from 'multiformats/hashes/identity';
import { sha256, sha512 } from 'multiformats/hashes/sha2';
import pg from 'pg';
import type { FileVersionRow } from '../src/db/schema.js';
import {
  contentCid,
  encodeVersionRecord,
  isContentCid,
  sameContent,
  type VersionRecord,
  versionCid,
  versionRecordOf,
} from '../src/modules/files/cid.js';

const sha256Hex = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** The raw CID of `bytes` as multiformats makes it from the bytes themselves. */
async function rawCidOfBytes(bytes: Uint8Array): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(bytes));
}

const FIXED: VersionRecord = {
  prev_cid: null,
  ver: 1,
  ts: 1735214400000,
  edited_by: { user_id: '0193a7e2-4b1c-7d3e-8f00-123456789abc', user_label: 'ci-upload', method: 'api' },
  note: null,
  properties: {
    label: 'bracket.step',
    filename: 'bracket.step',
    content_type: 'model/step',
    size: 3,
    sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    content_cid: 'bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu',
    key: 'bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu',
    tolerance_mm: 0.05,
    tags: ['steel', 'rev-a'],
    config: { options: { debug: true, level: null } },
  },
  relationships: [{ predicate: 'collection', peer: 'parts-2026', peer_type: 'collection' }],
  folder_id: null,
};

/**
 * Computed once from FIXED when the encoding was settled. If this fails, every cid already answered
 * would stop verifying: fix the encoder, never this literal.
 */
const FIXED_CID = 'bafyreih6h6tafbhtkbdmrni22t6shin323bczoiye7hit5etjryj74n2uq';

describe('content_cid', () => {
  it('is the known raw CID of the empty string', () => {
    assert.equal(contentCid(sha256Hex('')), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
  });

  it('of "abc" matches the content_cid the FIXED record carries', () => {
    assert.equal(contentCid(sha256Hex('abc')), FIXED.properties.content_cid);
  });

  it('equals the CID multiformats computes from the bytes themselves, for any bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        const expected = await rawCidOfBytes(bytes);
        const made = contentCid(sha256Hex(bytes));
        assert.equal(made, expected.toString());
        assert.match(made, /^bafkrei[a-z2-7]{52}$/);
      }),
    );
  });

  it('accepts an uppercase sha256 and refuses what is not one', () => {
    const hex = sha256Hex('abc');
    assert.equal(contentCid(hex.toUpperCase()), contentCid(hex));
    for (const bad of ['', 'abc', hex.slice(1), `${hex}00`, `${hex.slice(1)}g`]) {
      assert.throws(() => contentCid(bad), TypeError, JSON.stringify(bad));
    }
  });
});

describe('isContentCid and sameContent (the key rule)', () => {
  const bytes = new TextEncoder().encode('the bracket, revision A');
  const hex = sha256Hex(bytes);

  it('knows a content CID in base32 and in base58btc', async () => {
    const cid = await rawCidOfBytes(bytes);
    assert.equal(isContentCid(cid.toString()), true);
    assert.equal(isContentCid(cid.toString(base58btc)), true);
    assert.equal(sameContent(cid.toString(base58btc), hex), true);
  });

  it('does not take other CIDs, or other strings, for one', async () => {
    const others: unknown[] = [
      versionCid(FIXED), // dag-cbor
      'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', // CIDv0, dag-pb
      CID.create(1, 0x70, await sha256.digest(bytes)).toString(), // dag-pb v1, what `ipfs add` prints
      CID.create(1, raw.code, await sha512.digest(bytes)).toString(),
      CID.create(1, raw.code, identity.digest(bytes)).toString(),
      'bafkreinotacid',
      'uploads/2026/bracket.step',
      '',
      42,
      null,
      undefined,
    ];
    for (const value of others) assert.equal(isContentCid(value), false, String(value));
  });

  it('sameContent holds only for the CID of exactly those bytes', async () => {
    const cid = contentCid(hex);
    assert.equal(sameContent(cid, hex), true);
    assert.equal(sameContent(cid, hex.toUpperCase()), true);
    assert.equal(sameContent(cid, sha256Hex('the bracket, revision B')), false);
    assert.equal(sameContent('bracket.step', hex), false);
    assert.equal(sameContent(CID.create(1, 0x70, await sha256.digest(bytes)).toString(), hex), false, 'same digest, other codec');
    assert.equal(sameContent(cid, 'not-hex'), false);
  });
});

describe('version cid', () => {
  it('of the fixed record is the literal settled once', () => {
    assert.equal(versionCid(FIXED), FIXED_CID);
  });

  it('is CIDv1 dag-cbor sha2-256 of the block, base32', async () => {
    const block = encodeVersionRecord(FIXED);
    const expected = CID.create(1, dagCbor.code, await sha256.digest(block));
    assert.equal(versionCid(FIXED), expected.toString());
    assert.match(versionCid(FIXED), /^bafyrei[a-z2-7]{52}$/);
  });

  it('encodes exactly the eight fields, nulls as null, ts as an integer, prev_cid as a link', () => {
    const first = dagCbor.decode(encodeVersionRecord(FIXED)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first).sort(), ['edited_by', 'folder_id', 'note', 'prev_cid', 'properties', 'relationships', 'ts', 'ver']);
    assert.equal(first.note, null);
    assert.equal(first.folder_id, null);
    assert.equal(first.prev_cid, null);
    assert.equal(first.ts, FIXED.ts);
    assert.deepEqual(first.properties, FIXED.properties);

    const second = dagCbor.decode(encodeVersionRecord({ ...FIXED, ver: 2, prev_cid: FIXED_CID })) as Record<string, unknown>;
    const link = CID.asCID(second.prev_cid);
    assert.ok(link, 'prev_cid decodes as a CID link');
    assert.equal(link.toString(), FIXED_CID);
  });

  it('a null is not the same record as an absent field', () => {
    const { note: _note, ...withoutNote } = FIXED;
    const block = dagCbor.encode({ ...withoutNote, prev_cid: null });
    const dropped = CID.create(1, dagCbor.code, Digest.create(sha256.code, createHash('sha256').update(block).digest()));
    assert.notEqual(versionCid(FIXED), dropped.toString());
  });

  it('does not depend on the key order of properties, at any depth', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }), fc.integer(), (properties, seed) => {
        const record = versionRecordOf({ ...FIXED, properties });
        const shuffled = { ...record, properties: reorderKeys(record.properties, seed) as Record<string, unknown> };
        assert.equal(versionCid(shuffled), versionCid(record));
      }),
    );
    const a = versionCid({ ...FIXED, properties: { b: 1, a: { y: 2, x: [3, { q: 1, p: 2 }] } } });
    const b = versionCid({ ...FIXED, properties: { a: { x: [3, { p: 2, q: 1 }], y: 2 }, b: 1 } });
    assert.equal(a, b);
  });

  it('changes when any field of the record changes', () => {
    const changes: [string, Partial<VersionRecord>][] = [
      ['prev_cid', { prev_cid: versionCid({ ...FIXED, ver: 7 }) }],
      ['ver', { ver: 2 }],
      ['ts', { ts: FIXED.ts + 1 }],
      ['edited_by.user_id', { edited_by: { ...FIXED.edited_by, user_id: '0193a7e2-4b1c-7d3e-8f00-123456789abd' } }],
      ['edited_by.user_label', { edited_by: { ...FIXED.edited_by, user_label: 'ci-upload ' } }],
      ['edited_by.method', { edited_by: { ...FIXED.edited_by, method: 'cli' } }],
      ['note', { note: '' }],
      ['properties: a leaf', { properties: { ...FIXED.properties, tolerance_mm: 0.05000000000000001 } }],
      ['properties: a nested null', { properties: { ...FIXED.properties, config: { options: { debug: true } } } }],
      ['properties: array order', { properties: { ...FIXED.properties, tags: ['rev-a', 'steel'] } }],
      ['properties: 1 vs "1"', { properties: { ...FIXED.properties, size: '3' } }],
      ['relationships: peer_type', { relationships: [{ predicate: 'collection', peer: 'parts-2026', peer_type: null }] }],
      ['relationships: none', { relationships: [] }],
      ['folder_id', { folder_id: '0193a7e2-4b1c-7d3e-8f00-000000000001' }],
    ];
    const seen = new Map<string, string>([[versionCid(FIXED), 'the fixed record']]);
    for (const [what, change] of changes) {
      const cid = versionCid({ ...FIXED, ...change });
      assert.ok(!seen.has(cid), `changing ${what} gave the same cid as ${seen.get(cid)}`);
      seen.set(cid, what);
    }
  });

  it('chains: each version names the one before, so an edit to an old version breaks the next link', () => {
    const v1 = FIXED;
    const cid1 = versionCid(v1);
    const v2: VersionRecord = { ...v1, ver: 2, ts: v1.ts + 60_000, prev_cid: cid1, note: 'tolerance tightened' };
    const cid2 = versionCid(v2);
    const v3: VersionRecord = { ...v2, ver: 3, ts: v2.ts + 60_000, prev_cid: cid2, note: null };
    const cid3 = versionCid(v3);
    assert.equal(new Set([cid1, cid2, cid3]).size, 3);

    const tamperedV1 = { ...v1, properties: { ...v1.properties, tolerance_mm: 0.5 } };
    assert.notEqual(versionCid(tamperedV1), v2.prev_cid, 'the rewritten v1 no longer has the cid v2 names');
    assert.notEqual(versionCid({ ...v3, prev_cid: cid1 }), cid3, 'v3 commits to which version came before it');
  });

  it('refuses what it cannot hash faithfully', () => {
    assert.throws(() => versionCid({ ...FIXED, prev_cid: 'not-a-cid' }), /prev_cid is not a CID/);
    assert.throws(() => versionRecordOf({ ...FIXED, properties: { ratio: Number.NaN } }), /cannot be stored/);
    assert.throws(() => versionRecordOf({ ...FIXED, properties: { big: Infinity } }), /cannot be stored/);
    assert.throws(() => versionRecordOf({ ...FIXED, ts: 1.5 }), /ts/);
    assert.throws(() => versionRecordOf({ ...FIXED, ts: '2026-06-01T12:00:00Z' }), /ts/);
    assert.throws(() => versionRecordOf({ ...FIXED, ver: 0 }), /ver/);
  });
});

describe('versionRecordOf', () => {
  const row: FileVersionRow = {
    file_id: '0193a7e2-4b1c-7d3e-8f00-0000000000f1',
    ver: 1,
    org_id: '0193a7e2-4b1c-7d3e-8f00-0000000000a1',
    cid: 'whatever the row claims',
    prev_cid: null,
    ts: String(FIXED.ts),
    edited_by: { user_id: FIXED.edited_by.user_id, user_label: FIXED.edited_by.user_label, method: 'api' },
    note: null,
    properties: FIXED.properties,
    relationships: [{ predicate: 'collection', peer: 'parts-2026', peer_type: 'collection' }],
    folder_id: null,
    upload_id: '0193a7e2-4b1c-7d3e-8f00-0000000000u1',
    created_at: new Date('2026-06-01T12:00:00Z'),
  };

  it('picks the eight fields from a file_versions row (ts as bigint text) and ignores the rest', () => {
    const record = versionRecordOf(row);
    assert.deepEqual(Object.keys(record).sort(), [
      'edited_by',
      'folder_id',
      'note',
      'prev_cid',
      'properties',
      'relationships',
      'ts',
      'ver',
    ]);
    assert.equal(record.ts, FIXED.ts);
    assert.equal(versionCid(record), FIXED_CID);
    const otherwise: FileVersionRow = { ...row, cid: 'other', upload_id: 'other', org_id: 'other', created_at: new Date() };
    assert.equal(versionCid(versionRecordOf(otherwise)), FIXED_CID);
  });

  it('makes absent nullable fields null, as the row will have them', () => {
    const writer = versionRecordOf({
      ver: 1,
      ts: FIXED.ts,
      edited_by: FIXED.edited_by,
      properties: FIXED.properties,
      relationships: FIXED.relationships,
    });
    assert.equal(versionCid(writer), FIXED_CID);
  });

  it('hashes what jsonb gives back: undefined members dropped, -0 as 0, floats exact', () => {
    const written = versionRecordOf({ ...FIXED, properties: { a: undefined, zero: -0, third: 1 / 3, big: 1e21 } });
    assert.deepEqual(written.properties, { zero: 0, third: 1 / 3, big: 1e21 });
    assert.equal(versionCid(written), versionCid({ ...FIXED, properties: { zero: 0, third: 1 / 3, big: 1e21 } }));
  });

  it('gives the writer and a verifier reading PostgreSQL jsonb the same cid', async () => {
    const url = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
    assert.ok(url, 'a PostgreSQL server to round-trip jsonb through');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const samples = fc.sample(fc.dictionary(fc.string(), fc.jsonValue({ noUnicodeString: false }), { maxKeys: 6 }), {
        numRuns: 60,
        seed: 10,
      });
      samples.push({ zero: -0, third: 1 / 3, tiny: 5e-324, big: 1e21, unsafe: 2 ** 53 + 2, nested: { b: [1.5, null], a: 'é 𝄞' } });
      for (const properties of samples.filter((p) => !/\\u0000|\u0000/.test(JSON.stringify(p)))) {
        const written = versionRecordOf({ ...FIXED, properties });
        const { rows } = await client.query<{ properties: Record<string, unknown> }>('SELECT $1::jsonb AS properties', [
          JSON.stringify(written.properties),
        ]);
        const read = versionRecordOf({ ...row, properties: rows[0].properties });
        assert.equal(versionCid(read), versionCid(written), JSON.stringify(properties));
      }
    } finally {
      await client.end();
    }
  });
});

/** `value` with every object's keys in an order drawn from `seed`. */
function reorderKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((inner) => reorderKeys(inner, seed));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  let state = seed >>> 0 || 1;
  for (let i = entries.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) >>> 0;
    const j = state % (i + 1);
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, reorderKeys(inner, seed)]));
}
