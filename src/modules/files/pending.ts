import type { Attributes, Relationship } from '../../db/schema.js';

/**
 * The next content version as declared before its bytes arrive (a create without content, or a
 * reupload): kept on the file row until `POST …/content` brings bytes of exactly `size`.
 */
export interface PendingContent {
  /** The tip the version will follow: content arriving after another write is refused (409). */
  expect_tip: string | null;
  content_type: string;
  size: number;
  /** The whole properties of the version to be, server fields included (sha256, content_cid come with the bytes). */
  properties: Attributes;
  relationships: Relationship[];
  note: string | null;
  folder_id: string | null;
}
