import { sql } from 'kysely';
import type { Principal } from '../../access/caller.js';
import { grants } from '../../access/scopes.js';
import type { Db } from '../../db/database.js';
import { type Keyset, type Page, encodeCursor } from '../../db/keyset.js';

/**
 * Each source yields at most this many candidates, ranked among themselves: a common word costs a
 * bounded amount of work (ts_rank reads every match it is given), and a search that reaches it says
 * `count_capped`.
 */
export const SEARCH_CANDIDATES = 500;

/**
 * Results are ranked here, in memory (at most a few SEARCH_CANDIDATES): best first, then by id. A
 * cursor names the last result's full rank and id, so the next page is the results ranked after it.
 */
export const SEARCH_KEYSET: Keyset = {
  tag: 'search',
  direction: 'desc',
  columns: [
    { ref: 'rank', kind: 'number' },
    { ref: 'id', kind: 'uuid' },
  ],
};

const byRank = (a: { rank: number; id: string }, b: { rank: number; id: string }) => b.rank - a.rank || a.id.localeCompare(b.id);

interface Hit {
  kind: 'upload' | 'file';
  id: string;
  data_source_id: string | null;
  rank: number;
  /** The best-matching piece of the reading's text, for the snippet. */
  chunk: { reading_id: string; chunk: number } | null;
}

/**
 * Full-text search over the names of uploads and files and the text of their readings, one org's
 * only. Bytes a live file's tip holds are found as that file. Snippets are built for the page only.
 */
export async function search(db: Db, caller: Principal, q: string, page: Page) {
  const org = caller.orgId;
  const withFiles = grants(caller.scopes, 'files:read');
  const [textHits, uploadNames, fileNames] = await Promise.all([
    sql<{ upload_id: string; reading_id: string; chunk: number; rank: number }>`
      SELECT DISTINCT ON (upload_id) upload_id, reading_id, chunk, rank FROM (
        SELECT c.upload_id, c.reading_id, c.chunk, ts_rank_cd(c.tsv, websearch_to_tsquery('english', ${q})) AS rank
          FROM reading_chunks c JOIN uploads u ON u.id = c.upload_id
         WHERE c.org_id = ${org} AND c.tsv @@ websearch_to_tsquery('english', ${q})
           AND u.deleted_at IS NULL AND u.blob_purged_at IS NULL
         LIMIT ${SEARCH_CANDIDATES}) hits
      ORDER BY upload_id, rank DESC`.execute(db),
    sql<{ id: string; rank: number }>`
      SELECT id, ts_rank(name_tsv, name_query(${q})) AS rank
        FROM uploads
       WHERE org_id = ${org} AND name_tsv @@ name_query(${q})
         AND deleted_at IS NULL AND status = 'confirmed'
       LIMIT ${SEARCH_CANDIDATES}`.execute(db),
    withFiles
      ? sql<{ id: string; upload_id: string | null; rank: number }>`
          SELECT f.id, v.upload_id,
                 ts_rank(f.name_tsv, name_query(${q})) AS rank
            FROM files f LEFT JOIN file_versions v ON v.file_id = f.id AND v.ver = f.ver
           WHERE f.org_id = ${org} AND f.name_tsv @@ name_query(${q})
             AND f.deleted_at IS NULL
           LIMIT ${SEARCH_CANDIDATES}`.execute(db)
      : Promise.resolve({ rows: [] }),
  ]);
  const capped = [textHits, uploadNames, fileNames].some((r) => r.rows.length >= SEARCH_CANDIDATES);

  // Per upload: its name's rank (names weigh more than a word deep in the text) plus its text's.
  const byUpload = new Map<string, Hit>();
  const uploadHit = (id: string) => {
    let hit = byUpload.get(id);
    if (!hit) byUpload.set(id, (hit = { kind: 'upload', id, data_source_id: id, rank: 0, chunk: null }));
    return hit;
  };
  for (const row of uploadNames.rows) uploadHit(row.id).rank += 2 * Number(row.rank);
  for (const row of textHits.rows) {
    const hit = uploadHit(row.upload_id);
    hit.rank += Number(row.rank);
    hit.chunk = { reading_id: row.reading_id, chunk: row.chunk };
  }
  // Uploads whose bytes are a live file's tip are that file.
  const hits = new Map<string, Hit>();
  const tips =
    withFiles && byUpload.size
      ? await db
          .selectFrom('file_versions as v')
          .innerJoin('files as f', (join) => join.onRef('f.id', '=', 'v.file_id').onRef('f.ver', '=', 'v.ver'))
          .select(['f.id', 'v.upload_id'])
          .where('v.upload_id', 'in', [...byUpload.keys()])
          .where('f.org_id', '=', org)
          .where('f.deleted_at', 'is', null)
          .execute()
      : [];
  const fileOf = new Map(tips.map((t) => [t.upload_id, t.id]));
  for (const hit of byUpload.values()) {
    const fileId = fileOf.get(hit.id);
    if (fileId) hits.set(`file:${fileId}`, { ...hit, kind: 'file', id: fileId });
    else hits.set(`upload:${hit.id}`, hit);
  }
  for (const row of fileNames.rows) {
    const key = `file:${row.id}`;
    const hit = hits.get(key) ?? { kind: 'file' as const, id: row.id, data_source_id: row.upload_id, rank: 0, chunk: null };
    hit.rank += 2 * Number(row.rank);
    hits.set(key, hit);
  }

  const ranked = [...hits.values()].sort(byRank);
  const after = page.after && { rank: page.after[0] as number, id: page.after[1] as string };
  const start = after ? ranked.findIndex((hit) => byRank(hit, after) > 0) : page.offset;
  const pageHits = start < 0 ? [] : ranked.slice(start, start + page.limit);
  const last = pageHits[pageHits.length - 1];
  const more = start >= 0 && start + page.limit < ranked.length;
  const [names, snippets] = await Promise.all([namesOf(db, pageHits), snippetsOf(db, q, pageHits)]);
  return {
    count: ranked.length,
    ...(capped && { count_capped: true }),
    data: pageHits.map((hit) => ({
      kind: hit.kind,
      id: hit.id,
      data_source_id: hit.data_source_id,
      name: names.get(hit.id) ?? '',
      rank: Math.round(hit.rank * 10_000) / 10_000,
      snippet: hit.chunk ? (snippets.get(`${hit.chunk.reading_id}:${hit.chunk.chunk}`) ?? null) : null,
    })),
    next_cursor: more ? encodeCursor(SEARCH_KEYSET, [last.rank, last.id]) : null,
  };
}

async function namesOf(db: Db, hits: Hit[]) {
  const uploads = hits.filter((h) => h.kind === 'upload').map((h) => h.id);
  const files = hits.filter((h) => h.kind === 'file').map((h) => h.id);
  const [u, f] = await Promise.all([
    uploads.length ? db.selectFrom('uploads').select(['id', 'name']).where('id', 'in', uploads).execute() : [],
    files.length ? db.selectFrom('files').select(['id', 'filename as name']).where('id', 'in', files).execute() : [],
  ]);
  return new Map([...u, ...f].map((r) => [r.id, r.name]));
}

/** ts_headline re-parses the text it is given: only the page's pieces, each at most one chunk long. */
async function snippetsOf(db: Db, q: string, hits: Hit[]) {
  const chunks = hits.flatMap((h) => (h.chunk ? [h.chunk] : []));
  if (!chunks.length) return new Map<string, string>();
  const { rows } = await sql<{ reading_id: string; chunk: number; snippet: string }>`
    SELECT c.reading_id, c.chunk,
           ts_headline('english', c.body, websearch_to_tsquery('english', ${q}),
                       ${HEADLINE_OPTIONS}) AS snippet
      FROM reading_chunks c
      JOIN unnest(${chunks.map((c) => c.reading_id)}::uuid[], ${chunks.map((c) => c.chunk)}::int[]) AS page(reading_id, chunk)
        ON c.reading_id = page.reading_id AND c.chunk = page.chunk`.execute(db);
  return new Map(rows.map((r) => [`${r.reading_id}:${r.chunk}`, markedSnippet(r.snippet)]));
}

const HEADLINE_OPTIONS = 'StartSel="\u0002", StopSel="\u0003", MaxWords=30, MinWords=10, MaxFragments=2';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The document's text is anyone's: the snippet is HTML-escaped, and only then are the matches wrapped
 * in <mark>, so a page may show it as HTML. The markers ts_headline placed are control characters no
 * text extracted for search keeps.
 */
function markedSnippet(raw: string): string {
  return raw
    .replace(/[&<>"']/g, (c) => ESCAPES[c])
    .replace(/\u0002/g, '<mark>')
    .replace(/\u0003/g, '</mark>');
}
