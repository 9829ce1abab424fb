/**
 * Parses a dataset manifest (CSV or JSONL), the one reader of `sav-mcp eval` and add_examples' `manifest`, into rows
 * of image paths, a label and optional text. Pure text work: resolving and reading the paths is the caller's job.
 *
 * CSV: an optional header row naming the columns (any order; a first row whose cells include a path column —
 * `path`, `paths`, `image`, `images` or `file` — and `label` is the header; the text column is `text` or
 * `question`), otherwise the columns are path,label[,text]. Quoting follows RFC 4180 ("a, b" and "" for a quote).
 * Several images read together in one example go in the path cell separated by "|" or ";".
 * JSONL: one object per line, {"path": "a.jpg", "label": "cat", "text": "…"}; the images may be a string or a list
 * under "path", "paths", "image" or "images", or "image_1" … "image_4" (BLINK), and the text the first string of
 * "question", "instruction", "claim" or "text" (the SAVs reference data files' fields).
 */

export interface ManifestRow {
  /** 1-based line of the file where the row starts (the item's number in a JSON array). */
  line: number;
  paths: string[];
  label: string;
  text?: string;
  /** The JSON field the text came from (it picks the reference prompt template). */
  textField?: string;
}

export interface ManifestProblem {
  line: number;
  reason: string;
}

export type ManifestFormat = "csv" | "jsonl";

/** Separates several images of one example in a CSV path cell. */
const CSV_PATH_SEPARATORS = /[|;]/;

/** Text fields of the reference data files, in the order they are looked for. */
export const REFERENCE_TEXT_FIELDS = ["question", "instruction", "claim", "text"] as const;
const IMAGE_FIELDS = ["path", "paths", "image", "images", "image_1", "image_2", "image_3", "image_4"];

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
      const textColumn = names.findIndex((n) => n === "text" || n === "question");
      columns = { path: pathColumn, label: labelColumn, text: textColumn === -1 ? undefined : textColumn };
      body = records.slice(1);
    }
  }
  for (const record of body) {
    const rawPaths = record.cells[columns.path]?.trim() ?? "";
    const label = record.cells[columns.label]?.trim() ?? "";
    const paths = rawPaths
      .split(CSV_PATH_SEPARATORS)
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
    const text = columns.text === undefined ? "" : (record.cells[columns.text]?.trim() ?? "");
    rows.push({ line: record.line, paths, label, ...(text !== "" ? { text } : {}) });
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
    const row = rowFromObject(value, line);
    if ("reason" in row) problems.push(row);
    else rows.push(row);
  }
  return { rows, problems };
}

/** One JSONL line's (or reference JSON array item's) object as a row, or what is wrong with it. */
export function rowFromObject(value: unknown, line: number): ManifestRow | ManifestProblem {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { line, reason: 'not a JSON object like {"path": "a.jpg", "label": "cat"}' };
  }
  const fields = value as Record<string, unknown>;
  const paths = IMAGE_FIELDS.flatMap((field) => {
    const given = fields[field];
    return given === undefined ? [] : Array.isArray(given) ? (given as unknown[]) : [given];
  });
  if (paths.length === 0 || paths.some((p) => typeof p !== "string" || p.trim() === "")) {
    return { line, reason: '"path" (or "image", "images", "image_1"…"image_4") must be a non-empty string or a list of them' };
  }
  if (typeof fields.label !== "string" || fields.label.trim() === "") return { line, reason: '"label" must be a non-empty string' };
  if (fields.text !== undefined && typeof fields.text !== "string") return { line, reason: '"text" must be a string when given' };
  const textField = REFERENCE_TEXT_FIELDS.find((field) => typeof fields[field] === "string" && (fields[field] as string).trim() !== "");
  return {
    line,
    paths: (paths as string[]).map((p) => p.trim()),
    label: fields.label.trim(),
    ...(textField !== undefined ? { text: fields[textField] as string, textField } : {}),
  };
}
