/** A search piece holds at most this much text: far below the 1 MiB a tsvector may take, whatever the words. */
export const CHUNK_CHARS = 32_000;

/**
 * Text in pieces for search: a PDF's pages (form feeds part them) stay apart, and a long page or
 * text is cut at the last whitespace before CHUNK_CHARS. Nothing is dropped; blank pieces are.
 */
export function chunksOf(text: string): string[] {
  const pieces: string[] = [];
  for (const page of text.split('\f')) {
    let rest = page;
    while (rest.length > CHUNK_CHARS) {
      const cut = rest.lastIndexOf(' ', CHUNK_CHARS);
      const at = cut > CHUNK_CHARS / 2 ? cut : CHUNK_CHARS;
      pieces.push(rest.slice(0, at));
      rest = rest.slice(at);
    }
    pieces.push(rest);
  }
  // Control characters other than whitespace mean nothing to search, and two of them mark snippets.
  return pieces.map((p) => p.replace(/[\u0000-\u0008\u000b\u000e-\u001f]/g, ' ').trim()).filter((p) => p.length > 0);
}
