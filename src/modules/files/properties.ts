import type { UploadRow } from '../../db/schema.js';
import { validationError } from '../../errors.js';
import { cleanFilename } from '../names.js';
import { contentCid } from './cid.js';
import {
  type JsonObject,
  type PropertiesRemove,
  type Relationship,
  type RelationshipInput,
  type RelationshipRef,
  applyPropertyChanges,
  applyRelationships,
  checkPropertiesSize,
  checkRelationshipsCount,
  initialRelationships,
  propertiesTooLarge,
  propertyChangeProblems,
  tooManyRelationships,
} from './merge.js';

/** What a create or reupload declares of the content to come, and what it calls it. */
export interface DeclaredContent {
  filename: string;
  content_type: string;
  size: number;
  label: string;
  description?: string;
  key?: string;
}

/**
 * The properties of a version whose content is declared anew: `base` (the client's free properties,
 * or the previous version's) with the content's own fields set over it. The old content's digests and
 * key go: they named other bytes.
 */
export function declaredProperties(base: JsonObject, content: DeclaredContent): JsonObject {
  const { sha256: _sha256, content_cid: _cid, key: _key, ...kept } = base;
  const props: JsonObject = {
    ...kept,
    filename: content.filename,
    content_type: content.content_type,
    size: content.size,
    label: content.label,
  };
  if (content.description !== undefined) props.description = content.description;
  if (content.key !== undefined) props.key = content.key;
  return withinCap(props);
}

/** The properties once the bytes are known: their size and digests, from the confirmed upload holding them. */
export function contentProperties(props: JsonObject, upload: UploadRow): JsonObject {
  const sha256 = upload.sha256 ?? '';
  return { ...props, size: Number(upload.size_bytes), sha256, content_cid: contentCid(sha256) };
}

/** The client's free properties on create: server-set names refused with 422 naming the field that sets each. */
export function freeProperties(properties: JsonObject | undefined): JsonObject {
  const problems = propertyChangeProblems({ properties });
  if (problems.length) throw validationError(problems);
  return properties ?? {};
}

/** A PUT's changes to the previous version's properties: removals, the deep merge, then the dedicated fields. */
export function editProperties(
  base: JsonObject,
  change: { properties?: JsonObject; properties_remove?: unknown; filename?: string; label?: string; description?: string },
): JsonObject {
  const problems = propertyChangeProblems(change);
  if (problems.length) throw validationError(problems);
  // Its shape was checked just above: names, or objects of names.
  const props = applyPropertyChanges(base, {
    properties: change.properties,
    properties_remove: change.properties_remove as PropertiesRemove | undefined,
  });
  if (change.filename !== undefined) props.filename = cleanFilename(change.filename, 'body.filename');
  if (change.label !== undefined) props.label = change.label;
  if (change.description !== undefined) props.description = change.description;
  return withinCap(props);
}

export function relationshipsOnCreate(relationships: readonly RelationshipInput[], collection?: string): Relationship[] {
  return relationshipsWithinCap(initialRelationships(relationships, collection));
}

export function relationshipsOnUpdate(
  previous: readonly Relationship[],
  change: { relationships_add?: readonly RelationshipInput[]; relationships_remove?: readonly RelationshipRef[] },
): Relationship[] {
  return relationshipsWithinCap(applyRelationships(previous, { add: change.relationships_add, remove: change.relationships_remove }));
}

function withinCap(props: JsonObject): JsonObject {
  const over = checkPropertiesSize(props);
  if (over) throw propertiesTooLarge(over);
  return props;
}

function relationshipsWithinCap(list: Relationship[]): Relationship[] {
  const over = checkRelationshipsCount(list);
  if (over) throw tooManyRelationships(over);
  return list;
}
