/**
 * What every tiny-model generator does the same way: the dtype variants and their file names, writing each graph
 * in each variant, and the stamped, atomic "generate unless already there" of a model directory.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodeModel, type GraphModel } from "./graph-builder.js";
import { quantizeInt8, quantizeQ4 } from "./quantize.js";

export type GraphVariant = "fp32" | "q4" | "int8";
export const GRAPH_VARIANTS: readonly GraphVariant[] = ["fp32", "q4", "int8"];
const SUFFIX: Record<GraphVariant, string> = { fp32: "", q4: "_q4", int8: "_int8" };

/** Records the options a directory was generated with; a directory whose stamp differs is regenerated. */
export const STAMP_FILE = ".generator.json";

/** The chosen variants in the canonical order, or an error naming the known ones. */
export function normalizeVariants(variants: readonly GraphVariant[] | undefined): GraphVariant[] {
  const chosen = variants ?? [...GRAPH_VARIANTS];
  for (const v of chosen) {
    if (!GRAPH_VARIANTS.includes(v)) throw new Error(`unknown variant "${String(v)}"; expected one of ${GRAPH_VARIANTS.join(", ")}`);
  }
  if (chosen.length === 0) throw new Error("at least one variant is needed");
  return GRAPH_VARIANTS.filter((v) => chosen.includes(v));
}

export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be an integer in 0..2^32-1, got ${seed}`);
}

export interface GraphComponent {
  /** File name stem: `onnx/<name><variant suffix>.onnx`. */
  name: string;
  build: () => GraphModel;
  /** Only MatMuls are 4-bit in the published q4 files, so a graph without any is copied as fp32 (embed_tokens). */
  q4Copy?: boolean;
}

/** Builds each component once and writes it in every variant, through `write` (which may split off external data). */
export async function writeGraphs(
  components: readonly GraphComponent[],
  variants: readonly GraphVariant[],
  write: (relative: string, bytes: Uint8Array, variant: GraphVariant) => Promise<void>,
  progress: (message: string) => void,
  what: string,
): Promise<void> {
  for (const component of components) {
    const started = Date.now();
    progress(`building ${component.name} (${what})`);
    const graph = component.build();
    let fp32Bytes: Uint8Array | undefined;
    const fp32 = (): Uint8Array => (fp32Bytes ??= encodeModel(graph));
    for (const variant of variants) {
      const relative = `onnx/${component.name}${SUFFIX[variant]}.onnx`;
      const bytes =
        variant === "fp32" || (variant === "q4" && component.q4Copy) ? fp32() : encodeModel(variant === "q4" ? quantizeQ4(graph) : quantizeInt8(graph));
      await write(relative, bytes, variant);
      progress(`  wrote ${relative} (${(bytes.byteLength / 1e6).toFixed(1)} MB)`);
    }
    progress(`  ${component.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

export interface OutputDir {
  /** The absolute directory. */
  dir: string;
  /** Paths relative to dir, in write order. */
  files: string[];
  write(relative: string, data: string | Uint8Array): Promise<void>;
}

/** Creates `<outDir>/onnx` and returns a writer that records what it wrote. */
export async function openOutputDir(outDir: string): Promise<OutputDir> {
  const dir = path.resolve(outDir);
  const files: string[] = [];
  await mkdir(path.join(dir, "onnx"), { recursive: true });
  return {
    dir,
    files,
    async write(relative, data) {
      await writeFile(path.join(dir, relative), data);
      files.push(relative);
    },
  };
}

/** A generated JSON file's text (two-space indent, final newline, as the published files). */
export const jsonText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

async function stampMatches(dir: string, expected: object): Promise<boolean> {
  try {
    const found = JSON.parse(await readFile(path.join(dir, STAMP_FILE), "utf8")) as unknown;
    return JSON.stringify(found) === JSON.stringify(expected);
  } catch {
    return false;
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? "");
}

/**
 * Returns outDir after making sure it holds a model whose stamp is `expected`, generating it (with `generate`, which
 * writes the stamp last) when missing or stale. Generation goes to a temporary sibling directory that is renamed into
 * place, so concurrent callers never see a half-written model; whoever renames last wins, both get a complete one.
 */
export async function ensureGenerated(outDir: string, expected: object, generate: (dir: string) => Promise<unknown>): Promise<string> {
  const target = path.resolve(outDir);
  if (await stampMatches(target, expected)) return target;

  const unique = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const temp = `${target}.tmp-${unique}`;
  await mkdir(path.dirname(target), { recursive: true });
  try {
    await generate(temp);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await rename(temp, target);
        return target;
      } catch (error) {
        if (!isErrno(error, "ENOTEMPTY", "EEXIST", "EPERM", "EACCES", "EBUSY")) throw error;
        // Someone else finished first with the same options: use theirs.
        if (await stampMatches(target, expected)) return target;
        // A stale directory is in the way: move it aside, then retry.
        const aside = `${target}.old-${unique}-${attempt}`;
        try {
          await rename(target, aside);
        } catch (moveError) {
          if (!isErrno(moveError, "ENOENT")) throw moveError;
        }
        await rm(aside, { recursive: true, force: true });
      }
    }
    throw new Error(`could not move the generated model into ${target}`);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
