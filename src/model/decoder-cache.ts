import { constants } from "node:fs";
import { access, readFile, rename, writeFile } from "node:fs/promises";
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
  const key = sha256Hex(EDIT_VERSION, sourceHash, JSON.stringify(options)).slice(0, 16);
  const dir = path.dirname(source);
  const base = path.basename(source, ".onnx");
  const target = path.join(dir, `${base}.sav-${key}.onnx`);
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
  return { path: target, layers: edited.layers };
}
