/**
 * RFC 4180 CSV, read and written the same way by every label file SceneLab exchanges (Vertex
 * AI import files, plain path,label files). Quoted fields may hold commas, doubled quotes and
 * line breaks, so any image or class name survives a round trip.
 */

/** One record of a CSV file and the 1-based line it starts on (what an error message names). */
export interface CsvRow {
  line: number;
  fields: string[];
}

/**
 * Splits CSV text into records. Unquoted fields are trimmed (hand-written files pad commas
 * with spaces); quoted fields are kept exactly, so a name with leading spaces survives when
 * it was written quoted. Blank lines are skipped. An unterminated quote is reported on the
 * line it opened.
 */
export function parseCsv(text: string): { rows: CsvRow[]; unterminated: number | null } {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let quotedField = false;
  let inQuotes = false;
  let line = 1;
  let rowLine = 1;
  let quoteLine = 0;
  let blank = true;
  const endField = (): void => {
    fields.push(quotedField ? field : field.trim());
    field = '';
    quotedField = false;
  };
  const endRow = (): void => {
    endField();
    if (!(blank && fields.length === 1 && fields[0] === '')) rows.push({ line: rowLine, fields });
    fields = [];
    blank = true;
  };
  // A leading byte-order mark is an encoding artefact of spreadsheet exports, not data.
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') inQuotes = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.trim() === '') {
      inQuotes = true;
      quotedField = true;
      quoteLine = line;
      field = '';
      blank = false;
    } else if (c === ',') {
      endField();
      blank = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      // Text after a closing quote (`"a"b`) is kept as written rather than dropped.
      field += c;
      if (c.trim() !== '') blank = false;
    }
  }
  if (inQuotes) return { rows, unterminated: quoteLine };
  endRow();
  return { rows, unterminated: null };
}

/** RFC 4180 fields of one CSV line (quotes, doubled quotes, commas inside quotes); fields trimmed. */
export function parseCsvLine(line: string): string[] {
  const { rows } = parseCsv(line.replace(/[\r\n]+/g, ' '));
  return rows[0]?.fields.map((f) => f.trim()) ?? [''];
}

/** A field as CSV writes it: quoted when it holds a comma, quote, line break or edge whitespace. */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV line from fields. */
export function csvLine(fields: readonly string[]): string {
  return fields.map(csvField).join(',');
}
