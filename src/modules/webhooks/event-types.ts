/**
 * What an endpoint may listen to. Each is written by a trigger on the table whose change it reports
 * (migration 0015), in the transaction of that change.
 */
export const EVENT_TYPES = [
  'upload.confirmed',
  'upload.failed',
  'file.version_created',
  'file.deleted',
  'reading.ready',
  'preview.ready',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
