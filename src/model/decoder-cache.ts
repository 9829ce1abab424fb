import { constants } from "node:fs";
import { access, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { decodeModel, editDecoder, encodeModel, GraphEditError, referenceWeightsInPlace, type DecoderEditOptions } from "./graph.js";
import { onnx, type Onnx } from "./onnx-proto.js";
import { codeHashOf, writable, writeFileAtomic } from "./cache-files.js";
import { sha256File, sha256Hex } from "./file-hash.js";

/**
 * The editor's own code (graph.ts and this module, as built), so that any change to how graphs are edited
 * yields new cached graphs instead of reusing ones an earlier editor made.
 */
export const EDITOR_CODE_HASH: string = codeHashOf(import.meta.url, ["graph", "decoder-cache"], "decoder editor");

export interface PreparedDecoder {
  /** The edited graph on disk (beside its source, reading the source's weights in place)… */
  path?: string;
  /** …or in memory with the weights inline, when the model directory is read-only. */
  bytes?: Uint8Array;
  layers: number;
}

/**
 * The decoder edited to output head vectors, cached on disk keyed by the source file's sha256 and the
 * edit options. The cached file holds only the graph: its weights stay in the source file.
 */
export async function prepareDecoder(source: string, options: DecoderEditOptions, editorHash = EDITOR_CODE_HASH): Promise<PreparedDecoder> {
  const sourceHash = await sha256File(source);
  const dir = path.dirname(source);
  const base = path.basename(source, ".onnx");
  // The name carries the source's and the editor's hashes, so graphs edited from an earlier version of either are removed.
  const sourcePrefix = `${base}.sav-${sourceHash.slice(0, 16)}-${editorHash.slice(0, 8)}-`;
  const optionsKey = JSON.stringify({ ...options, oProjPattern: options.oProjPattern?.source });
  const target = path.join(dir, `${sourcePrefix}${sha256Hex(optionsKey).slice(0, 8)}.onnx`);
  const layers = Math.min(options.keepLayers ?? options.layers, options.layers);
  try {
    await access(target, constants.R_OK);
    return { path: target, layers };
  } catch {
    // Not cached yet.
  }
  const sourceBytes = await readFile(source);
  const edited = editDecoder(decodeModel(sourceBytes), options);
  if (!(await writable(dir))) {
    // A graph loaded from memory cannot resolve external-data paths, which are relative to the graph's own file.
    if (usesExternalData(edited.model)) {
      throw new GraphEditError(
        `${dir} is read-only, and ${path.basename(source)} keeps its weights in external data files, so the edited decoder must be written beside it. ` +
          "Make the directory writable, or copy the model to a writable directory and point --model-dir at it.",
      );
    }
    return { bytes: encodeModel(edited.model), layers: edited.layers };
  }
  referenceWeightsInPlace(edited.model, sourceBytes, path.basename(source));
  await writeFileAtomic(target, encodeModel(edited.model));
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

function usesExternalData(model: Onnx.IModelProto): boolean {
  return (model.graph?.initializer ?? []).some((tensor) => tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
}
