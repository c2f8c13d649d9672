import { Type } from '@sinclair/typebox';
import { READING_KINDS } from '../../readings/reading.js';
import { NextCursor, Pagination, Timestamp, Uuid, listOf, nullable } from '../../http/schemas.js';

const Content = Type.Record(Type.String(), Type.Unknown());

export const Reading = Type.Object({
  id: Uuid,
  data_source_id: Type.String({ description: 'The upload whose bytes were read.' }),
  file_id: nullable(Type.String(), { description: 'The file the upload was made for, if any.' }),
  kind: Type.Union(
    READING_KINDS.map((k) => Type.Literal(k)),
    { description: 'What the bytes are, for reading them.' },
  ),
  status: Type.Union([Type.Literal('pending'), Type.Literal('ready'), Type.Literal('failed')]),
  content: nullable(Content, { description: 'What the extractor found; null until ready, and when failed.' }),
  edited_content: nullable(Content, { description: "A person's correction (PUT); `content` stays as extracted." }),
  error: nullable(Type.Object({ reason: Type.String(), message: Type.String() }), { description: 'Why the reading failed.' }),
  has_thumbnail: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const ReadingList = listOf(Reading);

export const ReadingListQuery = Type.Composite([
  Pagination,
  Type.Object({
    data_source_id: Type.Optional(Type.String({ description: "Only this upload's reading." })),
    file_id: Type.Optional(Type.String({ description: "Only the readings of this file's versions' bytes." })),
    kind: Type.Optional(Type.Union(READING_KINDS.map((k) => Type.Literal(k)))),
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('ready'), Type.Literal('failed')])),
  }),
]);

export const ReadingParams = Type.Object({ reading_id: Type.String({ description: 'Identifier of the reading.' }) });

export const ReadingEdit = Type.Object(
  { content: Content },
  { additionalProperties: false, description: 'The corrected content; stored as `edited_content`.' },
);

export const UploadParams = Type.Object({ data_source_id: Type.String({ description: 'Identifier of the upload.' }) });

export const UploadEvent = Type.Object(
  {
    event: Type.Union([Type.Literal('PROCESS_DOCUMENT'), Type.Literal('GENERATE_PREVIEW')], {
      description: '`PROCESS_DOCUMENT` re-reads the bytes; `GENERATE_PREVIEW` makes the 3D preview again.',
      examples: ['PROCESS_DOCUMENT'],
    }),
  },
  { additionalProperties: false },
);

export const JobRef = Type.Object({ job_id: Uuid });

export const SearchQuery = Type.Composite([
  Pagination,
  Type.Object({
    q: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Words to find, in web-search syntax: `"a phrase"`, `or`, `-excluded`.',
      examples: ['quarterly report'],
    }),
  }),
]);

export const SearchResults = Type.Object({
  count: Type.Integer({ description: 'Results found, ignoring limit/offset.' }),
  count_capped: Type.Optional(
    Type.Boolean({ description: 'Present (true) when a source reached its candidate limit: there may be more.' }),
  ),
  data: Type.Array(
    Type.Object({
      kind: Type.Union([Type.Literal('upload'), Type.Literal('file')]),
      id: Type.String({ description: 'The upload or file.' }),
      data_source_id: nullable(Type.String(), { description: 'The upload whose bytes matched (for a file, its tip).' }),
      name: Type.String(),
      rank: Type.Number({ description: 'Higher is better; names weigh more than words deep in a text.' }),
      snippet: nullable(Type.String(), {
        description: 'Where the text matched: HTML-escaped, the matches in <mark>; null when only the name matched.',
      }),
    }),
  ),
  next_cursor: NextCursor,
});
