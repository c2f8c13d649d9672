/**
 * A small, valid text PDF written by hand (no PDF library is a dependency): one Helvetica font (a
 * standard font, not embedded), one content stream per page with one text line per entry, an Info
 * dictionary with Title and Author, and a classic cross-reference table with exact offsets. Used by the
 * readings tests and bench/readings-pdf.ts.
 */
import { deflateSync } from 'node:zlib';

export interface TextPdfOptions {
  /** The lines of each page, top to bottom (Latin-1 text). */
  pages: readonly (readonly string[])[];
  title?: string;
  author?: string;
  /** FlateDecode the content streams, as most producers do (default false: readable bytes). */
  compress?: boolean;
  /** Declare the file encrypted (RC4, revision 2) with keys that match no empty password: readers ask for one. */
  encrypted?: boolean;
}

/** A PDF literal string: backslash, parentheses and line ends escaped. */
function pdfString(text: string): string {
  return `(${text
    .replace(/[\\()]/g, (c) => `\\${c}`)
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n')})`;
}

export function makeTextPdf({ pages, title, author, compress = false, encrypted = false }: TextPdfOptions): Buffer {
  // Objects 1 catalog, 2 page tree, 3 font, 4 info, then per page: the page and its content stream.
  const objects: Buffer[] = [];
  const add = (body: string | Buffer) => objects.push(typeof body === 'string' ? Buffer.from(body, 'latin1') : body);
  const pageIds = pages.map((_, i) => 5 + 2 * i);
  const encryptId = 5 + 2 * pages.length;
  add('<< /Type /Catalog /Pages 2 0 R >>');
  add(`<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`);
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  const info = [title !== undefined ? `/Title ${pdfString(title)}` : '', author !== undefined ? `/Author ${pdfString(author)}` : ''];
  add(`<< ${info.join(' ')} /Producer (stowage test fixture) >>`);
  pages.forEach((lines, i) => {
    add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents ${pageIds[i] + 1} 0 R >>`);
    const ops = ['BT', '/F1 10 Tf', '14 TL', '40 800 Td', ...lines.map((line) => `${pdfString(line)} Tj T*`), 'ET'].join('\n');
    const raw = Buffer.from(ops, 'latin1');
    const data = compress ? deflateSync(raw) : raw;
    add(
      Buffer.concat([
        Buffer.from(`<< /Length ${data.length}${compress ? ' /Filter /FlateDecode' : ''} >>\nstream\n`, 'latin1'),
        data,
        Buffer.from('\nendstream', 'latin1'),
      ]),
    );
  });

  if (encrypted) add(`<< /Filter /Standard /V 1 /R 2 /P -4 /O <${'ab'.repeat(32)}> /U <${'cd'.repeat(32)}> >>`);

  const chunks: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let offset = chunks[0].length;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(offset);
    const chunk = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`, 'latin1'), body, Buffer.from('\nendobj\n', 'latin1')]);
    chunks.push(chunk);
    offset += chunk.length;
  });
  // Each xref entry is exactly 20 bytes: 10-digit offset, space, 5-digit generation, space, n|f, space, LF.
  const xref = [
    `xref\n0 ${objects.length + 1}\n`,
    '0000000000 65535 f \n',
    ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`),
  ];
  chunks.push(
    Buffer.from(
      `${xref.join('')}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 4 0 R${encrypted ? ` /Encrypt ${encryptId} 0 R /ID [<${'01'.repeat(16)}> <${'01'.repeat(16)}>]` : ''} >>\nstartxref\n${offset}\n%%EOF\n`,
      'latin1',
    ),
  );
  return Buffer.concat(chunks);
}

const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');

/** `count` pages of `linesPerPage` lines, each starting "p<page> l<line>:" then twelve words (about 90 characters). */
export function loremPages(count: number, linesPerPage = 55): string[][] {
  let w = 0;
  return Array.from({ length: count }, (_, p) =>
    Array.from({ length: linesPerPage }, (_, l) => {
      let line = `p${p + 1} l${l + 1}:`;
      for (let k = 0; k < 12; k++) line += ` ${WORDS[w++ % WORDS.length]}`;
      return line;
    }),
  );
}
