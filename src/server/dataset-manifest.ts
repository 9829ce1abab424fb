/**
 * Parses a dataset manifest (CSV or JSONL) into rows of image paths, a label and optional text.
 * Pure text work: resolving and reading the paths is the caller's job.
 *
 * CSV: an optional header row naming the columns `path`, `label` and `text` (any order; a first row
 * whose cells include "path" and "label" is the header), otherwise the columns are path,label[,text].
 * Quoting follows RFC 4180 ("a, b" and "" for a quote). Several images read together in one example go
 * in the path cell separated by "|".
 * JSONL: one object per line, {"path": "a.jpg", "label": "cat", "text": "…"}; "path" may also be a list
 * of paths (or use "paths"/"images" for the list).
 */

export interface ManifestRow {
  /** 1-based line of the file where the row starts. */
  line: number;
  paths: string[];
  label: string;
  text?: string;
}

export interface ManifestProblem {
  line: number;
  reason: string;
}

export type ManifestFormat = "csv" | "jsonl";

/** Several images of one example in a CSV path cell. */
export const CSV_PATH_SEPARATOR = "|";

export function manifestFormat(fileName: string): ManifestFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  return undefined;
}

export function parseManifest(text: string, format: ManifestFormat): { rows: ManifestRow[]; problems: ManifestProblem[] } {
  const content = text.startsWith("\uFEFF") ? text.slice(1) : text;
  return format === "csv" ? parseCsvManifest(content) : parseJsonlManifest(content);
}

// ------------------------------------------------------------------------------------------ CSV

interface CsvRecord {
  line: number;
  cells: string[];
}

/** RFC 4180 records; a quoted cell may span lines. Blank lines are skipped. */
export function parseCsvRecords(text: string): { records: CsvRecord[]; problems: ManifestProblem[] } {
  const records: CsvRecord[] = [];
  const problems: ManifestProblem[] = [];
  let line = 1;
  let recordLine = 1;
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let cellStarted = false;
  const endRecord = (): void => {
    cells.push(cell);
    if (cells.length > 1 || cells[0]!.trim() !== "") records.push({ line: recordLine, cells });
    cells = [];
    cell = "";
    cellStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (char === "\n") line++;
        cell += char;
      }
      continue;
    }
    if (char === '"' && !cellStarted) {
      quoted = true;
      cellStarted = true;
    } else if (char === ",") {
      cells.push(cell);
      cell = "";
      cellStarted = false;
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      cell += char;
      if (char.trim() !== "") cellStarted = true;
    }
  }
  if (quoted) problems.push({ line: recordLine, reason: "a quoted cell is not closed (missing \")" });
  else if (cell !== "" || cells.length > 0) endRecord();
  return { records, problems };
}

const PATH_COLUMNS = new Set(["path", "paths", "image", "images", "file"]);

function parseCsvManifest(text: string): { rows: ManifestRow[]; problems: ManifestProblem[] } {
  const { records, problems } = parseCsvRecords(text);
  const rows: ManifestRow[] = [];
  let columns = { path: 0, label: 1, text: 2 as number | undefined };
  let body = records;
  const first = records[0];
  if (first) {
    const names = first.cells.map((c) => c.trim().toLowerCase());
    const pathColumn = names.findIndex((n) => PATH_COLUMNS.has(n));
    const labelColumn = names.indexOf("label");
    if (pathColumn !== -1 && labelColumn !== -1) {
      const textColumn = names.indexOf("text");
      columns = { path: pathColumn, label: labelColumn, text: textColumn === -1 ? undefined : textColumn };
      body = records.slice(1);
    }
  }
  for (const record of body) {
    const rawPaths = record.cells[columns.path]?.trim() ?? "";
    const label = record.cells[columns.label]?.trim() ?? "";
    const paths = rawPaths
      .split(CSV_PATH_SEPARATOR)
      .map((p) => p.trim())
      .filter((p) => p !== "");
    if (paths.length === 0) {
      problems.push({ line: record.line, reason: "no image path in the path column" });
      continue;
    }
    if (label === "") {
      problems.push({ line: record.line, reason: "no label in the label column" });
      continue;
    }
    const textCell = columns.text === undefined ? undefined : record.cells[columns.text];
    rows.push({ line: record.line, paths, label, ...(textCell !== undefined && textCell.trim() !== "" ? { text: textCell } : {}) });
  }
  return { rows, problems };
}

// ---------------------------------------------------------------------------------------- JSONL

function parseJsonlManifest(text: string): { rows: ManifestRow[]; problems: ManifestProblem[] } {
  const rows: ManifestRow[] = [];
  const problems: ManifestProblem[] = [];
  for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
    const line = index + 1;
    if (rawLine.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(rawLine);
    } catch {
      problems.push({ line, reason: "not valid JSON (each line must be one JSON object)" });
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      problems.push({ line, reason: 'not a JSON object like {"path": "a.jpg", "label": "cat"}' });
      continue;
    }
    const fields = value as Record<string, unknown>;
    const pathValue = fields.path ?? fields.paths ?? fields.images;
    const paths = typeof pathValue === "string" ? [pathValue] : Array.isArray(pathValue) ? pathValue : undefined;
    if (!paths || paths.length === 0 || paths.some((p) => typeof p !== "string" || p.trim() === "")) {
      problems.push({ line, reason: '"path" must be a non-empty string or a list of them' });
      continue;
    }
    if (typeof fields.label !== "string" || fields.label.trim() === "") {
      problems.push({ line, reason: '"label" must be a non-empty string' });
      continue;
    }
    if (fields.text !== undefined && typeof fields.text !== "string") {
      problems.push({ line, reason: '"text" must be a string when given' });
      continue;
    }
    rows.push({
      line,
      paths: (paths as string[]).map((p) => p.trim()),
      label: fields.label.trim(),
      ...(typeof fields.text === "string" && fields.text.trim() !== "" ? { text: fields.text } : {}),
    });
  }
  return { rows, problems };
}
