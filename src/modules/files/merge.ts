/**
 * How a PUT changes a file's properties and relationships (002's update rules, as the SPEC decides
 * them). Every function here returns new values and leaves its inputs untouched: the previous
 * version's record is immutable, and its cid was computed from it.
 *
 * Decisions where 002 and the SPEC are silent:
 * - `null` in `properties` is a value: it replaces what was there and is stored. Removal is only
 *   `properties_remove` (one way to remove, so a JSON null is never ambiguous).
 * - An empty object in `properties` merges nothing into an object already there (objects merge);
 *   to replace an object wholesale, remove it and set it in the same request: removals apply first.
 * - `properties_remove` naming something absent, or descending into something that is not an
 *   object, removes nothing and is not an error. Its arrays name keys at their level only.
 * - The properties the server sets (RESERVED_PROPERTIES) are refused with 422 at the top level of
 *   `properties` and `properties_remove`, each problem naming the field that does set it: silently
 *   ignoring them would surprise, and letting them through would let properties lie about the bytes.
 *   The same names deeper down (`{"meta": {"size": 3}}`) are free.
 * - Relationships: `relationships_remove` matches on (predicate, peer) only; its peer_type may be
 *   omitted and is ignored. Removals apply first, then `relationships_add` upserts in order (the
 *   last of duplicates wins); an upsert without peer_type keeps the existing one, a new entry without
 *   one has `peer_type: null`. Existing entries keep their order, new ones are appended.
 * - Size: the properties as stored (server-set ones included) may take MAX_PROPERTIES_BYTES of JSON
 *   (UTF-8); over it is 413 `payload_too_large`, like any other size limit in the SPEC's table. A
 *   file holds at most MAX_RELATIONSHIPS relationships, also 413. No depth or key-count limit of its
 *   own: the HTTP layer refuses bodies nested past 64 levels, a merge is never deeper than the deeper
 *   of its two inputs, and 64 KiB bounds the number of keys.
 */
import { type AppError, type FieldProblem, payloadTooLarge } from '../../errors.js';

export type JsonObject = Record<string, unknown>;

/** `properties_remove`: top-level names, or objects whose leaves are lists of names at that level. */
export type PropertiesRemove = string[] | { [name: string]: PropertiesRemove };

export interface Relationship {
  predicate: string;
  peer: string;
  peer_type: string | null;
}

/** An entry of `relationships` / `relationships_add`; without peer_type see applyRelationships. */
export interface RelationshipInput {
  predicate: string;
  peer: string;
  peer_type?: string | null;
}

/** An entry of `relationships_remove`: (predicate, peer) names it; a peer_type given is ignored. */
export interface RelationshipRef {
  predicate: string;
  peer: string;
  peer_type?: string | null;
}

export const MAX_PROPERTIES_BYTES = 64 * 1024;
export const MAX_RELATIONSHIPS = 1000;

/** Properties the server sets from the content and the dedicated fields, with what sets each. */
export const RESERVED_PROPERTY_SOURCES = {
  label: 'is set by the `label` field',
  description: 'is set by the `description` field',
  filename: 'is set by the `filename` field',
  content_type: 'comes from the content: send new content with reupload',
  size: 'comes from the content: send new content with reupload',
  sha256: 'comes from the content: send new content with reupload',
  content_cid: 'comes from the content: send new content with reupload',
  key: 'is set by the `key` field when the content is given',
} as const satisfies Record<string, string>;

export type ReservedProperty = keyof typeof RESERVED_PROPERTY_SOURCES;
export const RESERVED_PROPERTIES = Object.keys(RESERVED_PROPERTY_SOURCES) as ReservedProperty[];

export const isReservedProperty = (name: string): name is ReservedProperty => Object.hasOwn(RESERVED_PROPERTY_SOURCES, name);

/** A JSON object as JSON.parse makes them (not an array, a Date or a class instance). */
export function isPlainObject(value: unknown): value is JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `patch` merged into `base`: objects merge recursively, arrays and scalars (null included) replace.
 * A member whose value is `undefined` (only a TypeScript caller can make one) is skipped.
 */
export function deepMerge(base: JsonObject, patch: JsonObject): JsonObject {
  return mergeInto(structuredClone(base), patch);
}

/** Merges into `target`, a copy this module owns; `patch` is only read. */
function mergeInto(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const current = Object.hasOwn(target, name) ? target[name] : undefined;
    if (isPlainObject(value)) setOwn(target, name, mergeInto(isPlainObject(current) ? current : {}, value));
    else setOwn(target, name, structuredClone(value));
  }
  return target;
}

/** `props` without what `remove` names; names that are absent are not an error. */
export function removeProperties(props: JsonObject, remove: PropertiesRemove): JsonObject {
  return removeFrom(structuredClone(props), remove);
}

function removeFrom(target: JsonObject, remove: PropertiesRemove): JsonObject {
  if (Array.isArray(remove)) {
    for (const name of remove) delete target[name];
    return target;
  }
  for (const [name, inner] of Object.entries(remove)) {
    const child = Object.hasOwn(target, name) ? target[name] : undefined;
    if (isPlainObject(child)) removeFrom(child, inner);
  }
  return target;
}

/** One PUT's property changes: removals first, then the merge (so a client can replace an object). */
export function applyPropertyChanges(
  base: JsonObject,
  change: { properties?: JsonObject; properties_remove?: PropertiesRemove },
): JsonObject {
  const kept = change.properties_remove ? removeProperties(base, change.properties_remove) : structuredClone(base);
  return change.properties ? mergeInto(kept, change.properties) : kept;
}

/**
 * What is wrong with a request's `properties` and `properties_remove` (from create or PUT): not an
 * object / not a list of names, and server-set names at their top level. `where` prefixes each path.
 */
export function propertyChangeProblems(body: { properties?: unknown; properties_remove?: unknown }, where = 'body'): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (body.properties !== undefined) {
    if (!isPlainObject(body.properties)) problems.push({ path: `${where}.properties`, message: 'must be an object' });
    else {
      for (const name of Object.keys(body.properties).filter(isReservedProperty)) {
        problems.push({ path: `${where}.properties.${name}`, message: `${name} ${RESERVED_PROPERTY_SOURCES[name]}, not by properties` });
      }
    }
  }
  if (body.properties_remove !== undefined) {
    const path = `${where}.properties_remove`;
    const shape = removeShapeProblems(body.properties_remove, path);
    problems.push(...shape);
    if (shape.length === 0) {
      const topNames = Array.isArray(body.properties_remove)
        ? (body.properties_remove as string[])
        : Object.keys(body.properties_remove as object);
      topNames.forEach((name, index) => {
        if (!isReservedProperty(name)) return;
        const at = Array.isArray(body.properties_remove) ? `${path}[${index}]` : `${path}.${name}`;
        problems.push({ path: at, message: `${name} ${RESERVED_PROPERTY_SOURCES[name]}; it cannot be removed` });
      });
    }
  }
  return problems;
}

/** `value` is a PropertiesRemove, or the problems that say where it is not. */
function removeShapeProblems(value: unknown, path: string): FieldProblem[] {
  const message = 'must be a list of property names or an object whose leaves are lists of names';
  if (Array.isArray(value)) {
    return value.flatMap((name, index) =>
      typeof name === 'string' ? [] : [{ path: `${path}[${index}]`, message: 'must be a property name' }],
    );
  }
  if (!isPlainObject(value)) return [{ path, message }];
  return Object.entries(value).flatMap(([name, inner]) => removeShapeProblems(inner, `${path}.${name}`));
}

const relationshipKey = (r: { predicate: string; peer: string }) => JSON.stringify([r.predicate, r.peer]);

/**
 * `list` after `remove` then `add` (see the decisions above). The answer never holds two entries
 * with the same (predicate, peer), even if `list` did (the first is kept).
 */
export function applyRelationships(
  list: readonly Relationship[],
  change: { add?: readonly RelationshipInput[]; remove?: readonly RelationshipRef[] },
): Relationship[] {
  const removed = new Set((change.remove ?? []).map(relationshipKey));
  const result: Relationship[] = [];
  const at = new Map<string, number>();
  const put = (entry: RelationshipInput) => {
    const key = relationshipKey(entry);
    const index = at.get(key);
    if (index === undefined) {
      at.set(key, result.length);
      result.push({ predicate: entry.predicate, peer: entry.peer, peer_type: entry.peer_type ?? null });
    } else if (entry.peer_type !== undefined) {
      result[index] = { ...result[index], peer_type: entry.peer_type };
    }
  };
  for (const entry of list) {
    if (!removed.has(relationshipKey(entry)) && !at.has(relationshipKey(entry))) put(entry);
  }
  for (const entry of change.add ?? []) put(entry);
  return result;
}

/** The `collection` shortcut on create: membership of that collection. */
export function collectionRelationship(collection: string): Relationship {
  return { predicate: 'collection', peer: collection, peer_type: 'collection' };
}

/** Version 1's relationships: `relationships` and the `collection` shortcut, upserted in that order. */
export function initialRelationships(relationships: readonly RelationshipInput[] = [], collection?: string | null): Relationship[] {
  const add = collection ? [...relationships, collectionRelationship(collection)] : relationships;
  return applyRelationships([], { add });
}

export interface SizeOverLimit {
  size_bytes: number;
  limit_bytes: number;
}

/** Bytes of `props` as JSON in UTF-8: what the cap measures. */
export const propertiesSize = (props: JsonObject): number => Buffer.byteLength(JSON.stringify(props), 'utf8');

/** How far `props` (as stored, server-set ones included) is over the cap, or null when it fits. */
export function checkPropertiesSize(props: JsonObject, maxBytes = MAX_PROPERTIES_BYTES): SizeOverLimit | null {
  const size = propertiesSize(props);
  return size > maxBytes ? { size_bytes: size, limit_bytes: maxBytes } : null;
}

/** The 413 for properties over the cap. */
export const propertiesTooLarge = (over: SizeOverLimit): AppError =>
  payloadTooLarge(`the properties take ${over.size_bytes} bytes as JSON; a file's properties may take at most ${over.limit_bytes}`, {
    path: 'body.properties',
    ...over,
  });

export interface CountOverLimit {
  count: number;
  limit: number;
}

/** How far `list` is over the relationship cap, or null when it fits. */
export function checkRelationshipsCount(list: readonly Relationship[], max = MAX_RELATIONSHIPS): CountOverLimit | null {
  return list.length > max ? { count: list.length, limit: max } : null;
}

/** The 413 for relationships over the cap. */
export const tooManyRelationships = (over: CountOverLimit): AppError =>
  payloadTooLarge(`a file holds at most ${over.limit} relationships; this change would leave ${over.count}`, {
    path: 'body.relationships_add',
    ...over,
  });

/** Sets an own data property, even one named `__proto__` (which `target[name] = …` would not). */
function setOwn(target: JsonObject, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}
