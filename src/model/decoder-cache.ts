import { constants } from "node:fs";
import { access, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { decodeModel, editDecoder, encodeModel, referenceWeightsInPlace, type DecoderEditOptions } from "./graph.js";
import { sha256File, sha256Hex } from "./file-hash.js";

/** Bump when the edit changes, so stale edited graphs are not reused. */
const EDIT_VERSION = "1";

export interface PreparedDecoder {
  /** The edited graph on disk (beside its source, reading the source's weights in place)… */
  path?: string;
  /** …or in memory with the weights inline, when the model directory is read-only. */
  bytes?: Uint8Array;
  layers: number;
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The decoder edited to output head vectors, cached on disk keyed by the source file's sha256 and the
 * edit options. The cached file holds only the graph: its weights stay in the source file.
 */
export async function prepareDecoder(source: string, options: DecoderEditOptions): Promise<PreparedDecoder> {
  const sourceHash = await sha256File(source);
  const dir = path.dirname(source);
  const base = path.basename(source, ".onnx");
  // The name carries the source's hash, so graphs edited from an earlier version of the file can be found and removed.
  const sourcePrefix = `${base}.sav-${sourceHash.slice(0, 16)}-`;
  const target = path.join(dir, `${sourcePrefix}${sha256Hex(EDIT_VERSION, JSON.stringify(options)).slice(0, 8)}.onnx`);
  const layers = Math.min(options.keepLayers ?? options.layers, options.layers);
  try {
    await access(target, constants.R_OK);
    return { path: target, layers };
  } catch {
    // Not cached yet.
  }
  const sourceBytes = await readFile(source);
  const edited = editDecoder(decodeModel(sourceBytes), options);
  if (!(await writable(dir))) return { bytes: encodeModel(edited.model), layers: edited.layers };
  referenceWeightsInPlace(edited.model, sourceBytes, path.basename(source));
  const temporary = `${target}.${process.pid}.tmp`;
  await writeFile(temporary, encodeModel(edited.model));
  await rename(temporary, target);
  await removeStaleEdits(dir, base, sourcePrefix);
  return { path: target, layers: edited.layers };
}

/** Edited graphs of an earlier version of the source file: they point at bytes that have changed. */
async function removeStaleEdits(dir: string, base: string, currentPrefix: string): Promise<void> {
  const stale = (await readdir(dir)).filter(
    (name) => name.startsWith(`${base}.sav-`) && name.endsWith(".onnx") && !name.startsWith(currentPrefix),
  );
  await Promise.all(stale.map((name) => rm(path.join(dir, name), { force: true })));
}
