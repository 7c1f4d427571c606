/** CSV (RFC 4180) read and written in the browser: the refused rows of an import go back out as a file. */

/** Split CSV text into records of cells: quotes, doubled quotes and line breaks inside quotes as RFC 4180. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let quoted = false;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (quoted) {
      if (ch === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      record.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && body[i + 1] === "\n") i++;
      record.push(cell);
      records.push(record);
      record = [];
      cell = "";
    } else cell += ch;
  }
  if (cell !== "" || record.length > 0) {
    record.push(cell);
    records.push(record);
  }
  return records;
}

function quote(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** CSV text with a BOM, so that spreadsheet programs read the Chinese as UTF-8. */
export function toCsv(records: string[][]): string {
  return "\ufeff" + records.map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}

export interface Failure {
  row: number;
  column: string;
  reason: string;
}

/**
 * The refused rows of an import as a CSV: the original cells of each refused row (row 1 is the header, as the
 * import numbers them) followed by the row number and every reason; without the original, the reasons alone.
 */
export function refusedRows(failures: Failure[], original?: string): string {
  const reasons = new Map<number, string[]>();
  for (const f of failures) reasons.set(f.row, [...(reasons.get(f.row) ?? []), `${f.column}: ${f.reason}`]);
  if (!original) {
    return toCsv([["row", "column", "reason"], ...failures.map((f) => [String(f.row), f.column, f.reason])]);
  }
  const records = parseCsv(original);
  const header = records[0] ?? [];
  const out = [[...header, "row", "reasons"]];
  for (const [row, why] of [...reasons.entries()].sort((a, b) => a[0] - b[0])) {
    out.push([...(records[row - 1] ?? header.map(() => "")), String(row), why.join("; ")]);
  }
  return toCsv(out);
}
