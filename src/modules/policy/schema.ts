import { type Static, Type } from '@sinclair/typebox';
import { Timestamp, nullable } from '../../http/schemas.js';

/** Most entries a list of the policy holds: a policy names families of types, not every file kind. */
export const MAX_TYPES = 100;

// RFC 6838 names (a letter or digit, then up to 126 of letters, digits and !#$&-^_.+), lowercase, no parameters.
const NAME = '[a-z0-9][a-z0-9!#$&^_.+-]{0,126}';
const MEDIA_RANGE = `^${NAME}/(${NAME}|\\*)$`;

const MediaRange = Type.String({
  minLength: 3,
  maxLength: 255,
  pattern: MEDIA_RANGE,
  description: 'A lowercase media type `type/subtype` (no parameters), or `type/*` for every subtype of `type`.',
  examples: ['image/*', 'application/pdf'],
});

const Bytes = (minimum: number) => Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER });

const ALLOWED =
  'Only these content types are taken; null for any type not refused. Judged on the declared type at presign, and on ' +
  'the type sniffed from the bytes at confirm.';
const REFUSED = 'These content types are never taken, even when allowed (refused wins).';
const MAX_UPLOAD = 'The largest upload in bytes, whatever its flow; null for only the limits of the flows themselves.';
const QUOTA =
  'The most bytes the organisation may hold: confirmed uploads not yet purged, plus the declared sizes of pending ones; null for no quota.';

export const ContentPolicy = Type.Object(
  {
    allowed_content_types: nullable(Type.Array(Type.String()), { description: ALLOWED }),
    refused_content_types: Type.Array(Type.String(), { description: REFUSED }),
    max_upload_bytes: nullable(Type.Integer(), { description: MAX_UPLOAD }),
    quota_bytes: nullable(Type.Integer(), { description: QUOTA }),
    is_default: Type.Boolean({
      description: "True while the organisation has no policy of its own: the server's default (executables refused) applies.",
    }),
    updated_at: Type.Union([Timestamp, Type.Null()], { description: 'When the policy was last set; null for the default.' }),
  },
  { $id: 'ContentPolicy', title: 'Content policy' },
);

export const ContentPolicyRequest = Type.Object(
  {
    allowed_content_types: Type.Optional(
      nullable(Type.Array(MediaRange, { minItems: 1, maxItems: MAX_TYPES, uniqueItems: true }), {
        description: `${ALLOWED} At least 1 and at most ${MAX_TYPES} when given (null, or leaving it out, allows any type).`,
      }),
    ),
    refused_content_types: Type.Optional(
      nullable(Type.Array(MediaRange, { maxItems: MAX_TYPES, uniqueItems: true }), {
        description: `${REFUSED} Null, or leaving it out, keeps the server's default list (executables); [] refuses nothing. At most ${MAX_TYPES}.`,
      }),
    ),
    max_upload_bytes: Type.Optional(nullable(Bytes(1), { description: MAX_UPLOAD })),
    quota_bytes: Type.Optional(nullable(Bytes(0), { description: QUOTA })),
  },
  { additionalProperties: false },
);
export type ContentPolicyRequest = Static<typeof ContentPolicyRequest>;
