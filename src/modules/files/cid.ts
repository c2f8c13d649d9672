/**
 * Content ids of a file's bytes and of its versions, so anyone holding the records and the bytes can
 * re-verify a file's whole history without trusting Stowage.
 *
 * - content_cid: CIDv1, raw codec (0x55), sha2-256, base32 (`bafkrei…`). Made from the sha256 the
 *   upload already stored, so no byte is read again: a raw CID's multihash is the sha256 of the bytes.
 * - cid: CIDv1, dag-cbor codec (0x71), sha2-256, base32 (`bafyrei…`) of the version record, exactly
 *   `{prev_cid, ver, ts, edited_by, note, properties, relationships, folder_id}`.
 *
 * How the record is encoded (a verifier elsewhere must do the same):
 * - DAG-CBOR's canonical form: map keys sorted (length first, then bytes), so the key order of
 *   `properties` — which jsonb does not keep anyway — never changes a cid.
 * - `prev_cid` is an IPLD link (CBOR tag 42), not a string, so the versions form a real IPLD DAG that
 *   standard tools can walk (`ipfs dag get <cid>/prev_cid`); version 1 has `prev_cid: null`.
 * - Absent values are CBOR null, never dropped: `note: null`, `folder_id: null` are in the record.
 * - `ts` is the version's clock in epoch milliseconds, a CBOR integer.
 * - Numbers in properties: integers that are safe in JavaScript are CBOR integers; every other
 *   number (1.5, 1e21) is a 64-bit CBOR float, which holds any JavaScript number exactly. -0 is 0.
 * - `properties`, `relationships` and `edited_by` are taken as the database will hold them (a JSON
 *   round trip: jsonb is what the verifier reads back). DAG-CBOR refuses `undefined`, NaN and
 *   Infinity; the round trip leaves no `undefined`, and the HTTP layer refuses non-finite numbers
 *   before they get here, so meeting one is a bug and throws.
 */
import { createHash } from 'node:crypto';
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';

/** Who made a version: the API key's id and label, and how. */
export interface VersionEditor {
  user_id: string | null;
  user_label: string | null;
  method: string;
}

export interface VersionRelationship {
  predicate: string;
  peer: string;
  peer_type: string | null;
}

/** Exactly what a version's cid is the hash of. */
export interface VersionRecord {
  prev_cid: string | null;
  ver: number;
  /** Epoch milliseconds, an integer. */
  ts: number;
  edited_by: VersionEditor;
  note: string | null;
  properties: Record<string, unknown>;
  relationships: VersionRelationship[];
  folder_id: string | null;
}

/** A version as the writer holds it or as a row of file_versions (ts as bigint text), extra fields allowed. */
export interface VersionRecordSource {
  prev_cid?: string | null;
  ver: number;
  ts: number | string | bigint;
  edited_by: VersionEditor;
  note?: string | null;
  properties: Record<string, unknown>;
  relationships: readonly VersionRelationship[];
  folder_id?: string | null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/** The content_cid of bytes whose sha256 (hex) is `sha256Hex`. */
export function contentCid(sha256Hex: string): string {
  if (!SHA256_HEX.test(sha256Hex)) throw new TypeError(`not a sha256 in hex: ${JSON.stringify(sha256Hex)}`);
  return CID.create(1, raw.code, Digest.create(sha256.code, Buffer.from(sha256Hex, 'hex'))).toString();
}

/**
 * Whether `value` is a content CID: a CIDv1 of the raw codec with a sha2-256 multihash, the form
 * content_cid takes (in any multibase CID.parse reads: base32 `b…`, base58btc `z…`, base36 `k…`).
 * Any other string, other CIDs included (an IPFS dag-pb `bafybei…`, a raw blake3), is not one.
 */
export function isContentCid(value: unknown): boolean {
  return contentDigestOf(value) !== null;
}

/** Whether `key` is a content CID naming exactly the bytes whose sha256 is `sha256Hex`. */
export function sameContent(key: string, sha256Hex: string): boolean {
  const digest = contentDigestOf(key);
  return digest !== null && SHA256_HEX.test(sha256Hex) && Buffer.from(digest).equals(Buffer.from(sha256Hex, 'hex'));
}

function contentDigestOf(value: unknown): Uint8Array | null {
  if (typeof value !== 'string') return null;
  let cid: CID;
  try {
    cid = CID.parse(value);
  } catch {
    return null;
  }
  const isContent = cid.version === 1 && cid.code === raw.code && cid.multihash.code === sha256.code && cid.multihash.size === 32;
  return isContent ? cid.multihash.digest : null;
}

/**
 * The record of a version, picked from a row or from what the writer is about to insert, so that the
 * writer and the verifier hash the same thing. Absent nullable fields become null; `ts` a number.
 */
export function versionRecordOf(source: VersionRecordSource): VersionRecord {
  const ts = Number(source.ts);
  if (!Number.isSafeInteger(ts)) throw new TypeError(`a version's ts is whole epoch milliseconds, not ${String(source.ts)}`);
  if (!Number.isSafeInteger(source.ver) || source.ver < 1)
    throw new TypeError(`a version's ver is a whole number from 1, not ${source.ver}`);
  return {
    prev_cid: source.prev_cid ?? null,
    ver: source.ver,
    ts,
    edited_by: asStored<VersionEditor>(source.edited_by),
    note: source.note ?? null,
    properties: asStored<Record<string, unknown>>(source.properties),
    relationships: asStored<VersionRelationship[]>(source.relationships),
    folder_id: source.folder_id ?? null,
  };
}

/** The DAG-CBOR block of a version record: what its cid hashes, and what an IPLD store would hold. */
export function encodeVersionRecord(record: VersionRecord): Uint8Array {
  let prev: CID | null = null;
  if (record.prev_cid !== null) {
    try {
      prev = CID.parse(record.prev_cid);
    } catch {
      throw new TypeError(`prev_cid is not a CID: ${JSON.stringify(record.prev_cid)}`);
    }
  }
  return dagCbor.encode({
    prev_cid: prev,
    ver: record.ver,
    ts: record.ts,
    edited_by: record.edited_by,
    note: record.note,
    properties: record.properties,
    relationships: record.relationships,
    folder_id: record.folder_id,
  });
}

/** The cid of a version record. */
export function versionCid(record: VersionRecord): string {
  const hash = createHash('sha256').update(encodeVersionRecord(record)).digest();
  return CID.create(1, dagCbor.code, Digest.create(sha256.code, hash)).toString();
}

/**
 * `value` as jsonb gives it back: what JSON.stringify keeps (no undefined members, -0 as 0). A number
 * that is not finite would silently become null there, so it throws instead.
 */
function asStored<T>(value: unknown): T {
  const text = JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner === 'number' && !Number.isFinite(inner))
      throw new TypeError(`${inner} cannot be stored in JSON or hashed in DAG-CBOR`);
    return inner;
  });
  return JSON.parse(text) as T;
}
