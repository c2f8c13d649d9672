/**
 * What S3 takes, which every driver holds to so that a client written against one works against
 * the other. Configured limits are checked against these at start.
 */
export const STORAGE_LIMITS = {
  /** The largest single PUT S3 accepts. */
  singlePutBytes: 5 * 1024 ** 3,
  /** Every part of a multipart upload but the last holds at least this much. */
  minPartBytes: 5 * 1024 ** 2,
  maxPartBytes: 5 * 1024 ** 3,
  maxPartNumber: 10_000,
} as const;
