/**
 * Datasets for `sav-mcp eval`, in three layouts:
 * - an ImageFolder directory: one sub-directory per label, image files inside (nested folders are read too);
 * - a CSV or JSONL manifest (`.csv`, `.jsonl`): rows `path,label[,text]` (CSV with or without that header;
 *   several images in one row separated by `;`), or JSON lines {path|image|images, label, text?};
 * - a JSON file of the SAVs reference repository (`data/*.json`: an array of objects), reading `label`, the
 *   images from `image` (a string or a list), `images`, or `image_1` … `image_4` (BLINK), and the text from the
 *   first of `question` (EuroSAT, Pets, BLINK, NaturalBench), `instruction` (VLGuard), `claim` (MHaluBench) or
 *   `text`. `.jsonl` files with these fields (the reference `general` format, CameraBench) read the same way.
 * Relative image paths resolve against the manifest's directory, or `imageRoot` when given. The reference files
 * carry absolute paths from their authors' machines: when such a path does not exist and `imageRoot` is given,
 * its trailing components are tried under `imageRoot`, longest first (so `/home/x/data/vlguard/train/a.png`
 * finds `<root>/vlguard/train/a.png` or `<root>/train/a.png`).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif", ".bmp"];
/** Text fields of the reference data files, in the order they are looked for. */
export const REFERENCE_TEXT_FIELDS = ["question", "instruction", "claim", "text"] as const;
const REFERENCE_IMAGE_LIST_FIELDS = ["image_1", "image_2", "image_3", "image_4"];

export const datasetItemSchema = z.object({
  images: z.array(z.string()).min(1),
  label: z.string().min(1),
  text: z.string().nullable(),
});
export type DatasetItem = z.infer<typeof datasetItemSchema>;

export type DatasetFormat = "image-folder" | "csv" | "jsonl" | "reference-json";

export interface Dataset {
  source: string;
  format: DatasetFormat;
  items: DatasetItem[];
  /** Which text field the rows used (reference files), so the right prompt template can be chosen. */
  textField: string | null;
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

function listImagesRecursively(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listImagesRecursively(full));
    else if (IMAGE_EXTENSIONS.includes(path.extname(entry.name).toLowerCase())) found.push(full);
  }
  return found;
}

function readImageFolder(dir: string): Dataset {
  const labels = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
  const items = labels.flatMap((label) =>
    listImagesRecursively(path.join(dir, label)).map((file) => ({ images: [file], label, text: null })),
  );
  if (items.length === 0) {
    throw new DatasetError(
      `${dir} holds no images in label sub-directories. An ImageFolder dataset looks like ${dir}/<label>/<image>` +
        ` (extensions ${IMAGE_EXTENSIONS.join(" ")}); or give a .csv, .jsonl or .json manifest.`,
    );
  }
  return { source: dir, format: "image-folder", items, textField: null };
}

/** One CSV line into cells (RFC 4180 quoting: "a, b" and doubled quotes). */
export function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      cells.push(cell);
      cell = "";
    } else cell += ch;
  }
  cells.push(cell);
  return cells.map((c) => c.trim());
}

interface Resolver {
  (file: string): string;
}

function imageResolver(manifest: string, imageRoot: string | undefined): Resolver {
  const base = imageRoot ?? path.dirname(manifest);
  return (file) => {
    if (!path.isAbsolute(file)) return path.resolve(base, file);
    if (fs.existsSync(file) || imageRoot === undefined) return file;
    const parts = file.split(/[\\/]+/).filter((p) => p !== "");
    for (let start = 0; start < parts.length; start++) {
      const candidate = path.join(imageRoot, ...parts.slice(start));
      if (fs.existsSync(candidate)) return candidate;
    }
    return file;
  };
}

function readCsv(file: string, content: string, resolve: Resolver): Dataset {
  const lines = content.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new DatasetError(`${file} is empty; expected rows path,label[,text]`);
  let columns = { path: 0, label: 1, text: 2 };
  const first = parseCsvLine(lines[0]!).map((c) => c.toLowerCase());
  const hasHeader = first.includes("label");
  if (hasHeader) {
    const find = (...names: string[]) => first.findIndex((c) => names.includes(c));
    columns = { path: find("path", "image", "images", "file"), label: find("label"), text: find("text", "question") };
    if (columns.path < 0) throw new DatasetError(`${file}: the header has no path column (path, image, images or file)`);
  }
  const items = lines.slice(hasHeader ? 1 : 0).map((line, index) => {
    const cells = parseCsvLine(line);
    const label = cells[columns.label] ?? "";
    const images = (cells[columns.path] ?? "").split(";").map((p) => p.trim()).filter((p) => p !== "");
    if (label === "" || images.length === 0) {
      throw new DatasetError(`${file} row ${index + (hasHeader ? 2 : 1)}: expected path,label[,text]; got "${line.slice(0, 120)}"`);
    }
    const text = columns.text >= 0 && cells[columns.text] ? cells[columns.text]! : null;
    return { images: images.map(resolve), label, text };
  });
  return { source: file, format: "csv", items, textField: null };
}

function stringList(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

function itemFromObject(row: unknown, where: string, resolve: Resolver): { item: DatasetItem; textField: string | null } {
  if (row === null || typeof row !== "object" || Array.isArray(row)) throw new DatasetError(`${where}: expected a JSON object`);
  const record = row as Record<string, unknown>;
  const label = record.label;
  if (typeof label !== "string" || label.trim() === "") {
    throw new DatasetError(`${where}: needs a string "label" (got ${JSON.stringify(label)?.slice(0, 60)})`);
  }
  const images = [
    ...stringList(record.path),
    ...stringList(record.image),
    ...stringList(record.images),
    ...REFERENCE_IMAGE_LIST_FIELDS.flatMap((field) => stringList(record[field])),
  ];
  if (images.length === 0) {
    throw new DatasetError(`${where}: no image; give "image" (string or list), "images", "path" or "image_1"…"image_4"`);
  }
  const textField = REFERENCE_TEXT_FIELDS.find((field) => typeof record[field] === "string") ?? null;
  const text = textField ? (record[textField] as string) : null;
  return { item: { images: images.map(resolve), label: label.trim(), text }, textField };
}

function readJsonRows(file: string, rows: unknown[], format: DatasetFormat, resolve: Resolver, lineNumbers: boolean): Dataset {
  const fields = new Set<string | null>();
  const items = rows.map((row, index) => {
    const { item, textField } = itemFromObject(row, `${file} ${lineNumbers ? "line" : "item"} ${index + 1}`, resolve);
    fields.add(textField);
    return item;
  });
  if (items.length === 0) throw new DatasetError(`${file} holds no items`);
  const textField = fields.size === 1 ? [...fields][0]! : null;
  return { source: file, format, items, textField };
}

export interface LoadDatasetOptions {
  imageRoot?: string;
}

/** Reads a dataset; throws DatasetError with what was expected when the layout is not recognised. */
export function loadDataset(location: string, options: LoadDatasetOptions = {}): Dataset {
  const resolved = path.resolve(location);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(resolved);
  } catch {
    throw new DatasetError(`${location} does not exist; give an ImageFolder directory or a .csv, .jsonl or .json file`);
  }
  if (stat.isDirectory()) return readImageFolder(resolved);
  const resolve = imageResolver(resolved, options.imageRoot ? path.resolve(options.imageRoot) : undefined);
  const content = fs.readFileSync(resolved, "utf8");
  const extension = path.extname(resolved).toLowerCase();
  if (extension === ".csv") return readCsv(resolved, content, resolve);
  if (extension === ".jsonl") {
    const rows = content
      .split(/\r?\n/)
      .map((line, index) => ({ line, index }))
      .filter(({ line }) => line.trim() !== "")
      .map(({ line, index }) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          throw new DatasetError(`${resolved} line ${index + 1} is not JSON`);
        }
      });
    return readJsonRows(resolved, rows, "jsonl", resolve, true);
  }
  if (extension === ".json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (error) {
      throw new DatasetError(`${resolved} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    if (!Array.isArray(parsed)) throw new DatasetError(`${resolved}: a reference data file is a JSON array of items`);
    return readJsonRows(resolved, parsed, "reference-json", resolve, false);
  }
  throw new DatasetError(`${location}: unknown dataset file type '${extension}'; use a directory, .csv, .jsonl or .json`);
}

/**
 * A seeded split: `perLabel` items of each label (in a seeded shuffle) train, the rest test. Labels with no more
 * than `perLabel` items go entirely to training and are reported, so the caller can warn.
 */
export function splitPerLabel(
  items: DatasetItem[],
  perLabel: number,
  random: () => number,
): { train: DatasetItem[]; test: DatasetItem[]; trainOnlyLabels: string[] } {
  const byLabel = new Map<string, DatasetItem[]>();
  for (const item of items) byLabel.set(item.label, [...(byLabel.get(item.label) ?? []), item]);
  const train: DatasetItem[] = [];
  const test: DatasetItem[] = [];
  const trainOnlyLabels: string[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const members = [...byLabel.get(label)!];
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    train.push(...members.slice(0, perLabel));
    test.push(...members.slice(perLabel));
    if (members.length <= perLabel) trainOnlyLabels.push(label);
  }
  return { train, test, trainOnlyLabels };
}
