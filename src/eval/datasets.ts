/**
 * Datasets for `sav-mcp eval`, in three layouts:
 * - an ImageFolder directory: one sub-directory per label, image files inside (nested folders are read too);
 * - a CSV or JSONL manifest (`.csv`, `.jsonl`): rows `path,label[,text]` (CSV with or without that header;
 *   several images in one row separated by `|` or `;`), or JSON lines {path|image|images, label, text?};
 * - a JSON file of the SAVs reference repository (`data/*.json`: an array of objects), reading `label`, the
 *   images from `image` (a string or a list), `images`, or `image_1` … `image_4` (BLINK), and the text from the
 *   first of `question` (EuroSAT, Pets, BLINK, NaturalBench), `instruction` (VLGuard), `claim` (MHaluBench) or
 *   `text`. `.jsonl` files with these fields (the reference `general` format, CameraBench) read the same way.
 * The folder and manifest readers are add_examples' (`src/datasets/`). Relative image paths resolve against the manifest's directory, or `imageRoot` when given. The reference files
 * carry absolute paths from their authors' machines: when such a path does not exist and `imageRoot` is given,
 * its trailing components are tried under `imageRoot`, longest first (so `/home/x/data/vlguard/train/a.png`
 * finds `<root>/vlguard/train/a.png` or `<root>/train/a.png`).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { IMAGE_EXTENSIONS, listImageFolder } from "../datasets/image-folder.js";
import { manifestFormat, parseManifest, rowFromObject, type ManifestProblem, type ManifestRow } from "../datasets/manifest.js";

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

async function readImageFolder(dir: string): Promise<Dataset> {
  const { labels } = await listImageFolder(dir);
  const items = labels.flatMap(({ label, files }) => files.map((file) => ({ images: [path.join(dir, file)], label, text: null })));
  if (items.length === 0) {
    throw new DatasetError(
      `${dir} holds no images in label sub-directories. An ImageFolder dataset looks like ${dir}/<label>/<image>` +
        ` (extensions ${IMAGE_EXTENSIONS.join(" ")}); or give a .csv, .jsonl or .json manifest.`,
    );
  }
  return { source: dir, format: "image-folder", items, textField: null };
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

function problemsError(file: string, unit: "line" | "item", problems: ManifestProblem[]): DatasetError {
  const listed = problems.slice(0, 5).map((p) => `${unit} ${p.line}: ${p.reason}`);
  const more = problems.length > 5 ? `; … and ${problems.length - 5} more` : "";
  return new DatasetError(`${file}: ${listed.join("; ")}${more}`);
}

function datasetOf(file: string, format: DatasetFormat, rows: ManifestRow[], resolve: Resolver): Dataset {
  if (rows.length === 0) throw new DatasetError(`${file} holds no items; expected rows path,label[,text]`);
  const items = rows.map((row) => ({ images: row.paths.map(resolve), label: row.label, text: row.text ?? null }));
  // CSV has no field names: its text is plain text.
  const fields = new Set(rows.map((row) => row.textField ?? null));
  const textField = format !== "csv" && fields.size === 1 ? [...fields][0]! : null;
  return { source: file, format, items, textField };
}

export interface LoadDatasetOptions {
  imageRoot?: string;
}

/** Reads a dataset; throws DatasetError with what was expected when the layout is not recognised. */
export async function loadDataset(location: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const resolved = path.resolve(location);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(resolved);
  } catch {
    throw new DatasetError(`${location} does not exist; give an ImageFolder directory or a .csv, .jsonl or .json file`);
  }
  if (stat.isDirectory()) return await readImageFolder(resolved);
  const resolve = imageResolver(resolved, options.imageRoot ? path.resolve(options.imageRoot) : undefined);
  const content = fs.readFileSync(resolved, "utf8");
  const extension = path.extname(resolved).toLowerCase();
  const format = manifestFormat(resolved);
  if (format) {
    const { rows, problems } = parseManifest(content, format);
    if (problems.length > 0) throw problemsError(resolved, "line", problems);
    return datasetOf(resolved, format, rows, resolve);
  }
  if (extension === ".json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (error) {
      throw new DatasetError(`${resolved} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    if (!Array.isArray(parsed)) throw new DatasetError(`${resolved}: a reference data file is a JSON array of items`);
    const read = parsed.map((item: unknown, index) => rowFromObject(item, index + 1));
    const problems = read.filter((row): row is ManifestProblem => "reason" in row);
    if (problems.length > 0) throw problemsError(resolved, "item", problems);
    return datasetOf(resolved, "reference-json", read as ManifestRow[], resolve);
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
