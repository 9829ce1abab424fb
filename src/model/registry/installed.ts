import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { DTYPE_PREFERENCE } from "../onnx-files.js";
import { installCommandFor, ModelNotInstalledError } from "./errors.js";
import { COMPONENTS, DTYPE_SUFFIX, DTYPES, filesFor, ManifestError, type Component, type Dtype, type ModelManifest } from "./manifest.js";
import { readStampOrigin, readStampSha, readValidStamp } from "./state.js";

export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    else if (entry.isFile()) total += (await stat(full)).size;
  }
  return total;
}

export async function sizeOf(file: string): Promise<number | null> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

/** Whether every file of a dtype set is present with the right size; problems say what is missing. */
export async function checkInstalled(
  manifest: ModelManifest,
  dir: string,
  dtypes: Record<Component, Dtype>,
): Promise<{ ok: boolean; problems: string[] }> {
  const problems: string[] = [];
  for (const file of filesFor(manifest, dtypes)) {
    const size = await sizeOf(path.join(dir, file.path));
    if (size === null) {
      if (!file.optional) problems.push(`${file.path} is missing`);
      continue;
    }
    const expected = file.size ?? (await readValidStamp(dir, file.path))?.size ?? size;
    if (size !== expected) problems.push(`${file.path} has ${size} bytes instead of ${expected}`);
  }
  return { ok: problems.length === 0, problems };
}

/**
 * Installed files nothing vouched for: the manifest has no sha256 for them and the download recorded none it
 * was checked against (what `models verify` reports as UNVERIFIED).
 */
export async function unverifiedInstalledFiles(manifest: ModelManifest, dir: string, dtypes: Record<Component, Dtype>): Promise<string[]> {
  const found: string[] = [];
  for (const file of filesFor(manifest, dtypes)) {
    if (file.sha256 !== null || (await sizeOf(path.join(dir, file.path))) === null) continue;
    if ((await readStampSha(dir, file.path)) === null || (await readStampOrigin(dir, file.path)) === "none") found.push(file.path);
  }
  return found;
}

export function dtypeFlag(manifest: ModelManifest, dtypes: Record<Component, Dtype>): string {
  const changed = COMPONENTS.filter((c) => dtypes[c] !== manifest.defaultDtypes[c]).map((c) => `${c}=${dtypes[c]}`);
  return changed.length === 0 ? "" : ` --dtype ${changed.join(",")}`;
}

export class NotInstalled extends ModelNotInstalledError {
  override readonly installCommand: string;
  constructor(manifest: ModelManifest, dtypes: Record<Component, Dtype>, detail: string) {
    super(manifest.id, detail);
    this.installCommand = `${installCommandFor(manifest.id)}${dtypeFlag(manifest, dtypes)}`;
    this.message = this.message.replace(installCommandFor(manifest.id), this.installCommand);
  }
}

/**
 * The dtype per component of a directory in the published layout: the requested one when given (and present),
 * otherwise fp32 when its file is there, otherwise the first variant found.
 */
export function detectDtypes(dir: string, requested: Record<string, string> = {}): Record<Component, Dtype> {
  const graph = (c: Component, d: Dtype) => path.join(dir, "onnx", `${c}${DTYPE_SUFFIX[d]}.onnx`);
  const result = {} as Record<Component, Dtype>;
  for (const component of COMPONENTS) {
    const wanted = requested[component];
    if (wanted !== undefined) {
      if (!(DTYPES as string[]).includes(wanted) || !existsSync(graph(component, wanted as Dtype))) {
        throw new ManifestError(`${dir} has no onnx/${component}${DTYPE_SUFFIX[wanted as Dtype] ?? `_${wanted}`}.onnx.`);
      }
      result[component] = wanted as Dtype;
      continue;
    }
    const found = DTYPE_PREFERENCE.find((d) => existsSync(graph(component, d)));
    if (found === undefined) {
      throw new ManifestError(
        `${dir} has no onnx/${component}*.onnx; a model directory must use a published ONNX layout (onnx/<graph><dtype suffix>.onnx).`,
      );
    }
    result[component] = found;
  }
  return result;
}
