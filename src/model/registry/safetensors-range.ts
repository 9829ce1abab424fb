/**
 * One named tensor out of a hub `*.safetensors` file by HTTP Range requests, without downloading the
 * file: the 8-byte little-endian header length, the JSON header, then only that tensor's bytes.
 * Used for parameters no ONNX graph exposes (LLaVA-OneVision's `image_newline`). The tensor is stored
 * beside the model as JSON in float32, with where it came from.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { hubRequest, resolveUrl, type HubContext } from "./download.js";
import { HubError, statusError } from "./errors.js";

/** Bytes per element of the stored dtypes we convert. */
const ELEMENT_BYTES = { F32: 4, F16: 2, BF16: 2 } as const;
type StoredDtype = keyof typeof ELEMENT_BYTES;
/** A header this large is not a safetensors header (real ones are kilobytes to a few MB). */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/** Largest tensor fetched this way: these are single parameter vectors, not weight matrices. */
const MAX_TENSOR_BYTES = 16 * 1024 * 1024;

/** What a manifest asks for: a tensor (first name found wins) from a safetensors file, saved as `saveAs`. */
export const tensorRequestSchema = z.object({
  file: z.string().regex(/^[A-Za-z0-9_.-]+\.safetensors$/, "must be a *.safetensors file at the repository root"),
  /** Index file consulted when `file` is absent (sharded checkpoints). */
  indexFile: z.string().regex(/^[A-Za-z0-9_.-]+\.json$/).optional(),
  names: z.array(z.string().min(1)).min(1),
  saveAs: z.string().regex(/^[A-Za-z0-9_.-]+\.json$/, "must be a *.json file name"),
});
export type TensorRequest = z.infer<typeof tensorRequestSchema>;

export const storedTensorSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  storedDtype: z.enum(["F32", "F16", "BF16"]),
  values: z.array(z.number()),
  provenance: z.object({
    repository: z.string(),
    revision: z.string(),
    file: z.string(),
    tensor: z.string(),
    /** Absolute byte range of the tensor in the file, [start, end). */
    byteRange: z.tuple([z.number().int(), z.number().int()]),
    sha256: z.string(),
    fetchedAt: z.string(),
  }),
});
export type StoredTensor = z.infer<typeof storedTensorSchema>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** float32 values of a little-endian F32 / F16 / BF16 buffer. */
export function decodeTensorBytes(dtype: StoredDtype, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength / ELEMENT_BYTES[dtype];
  const out = new Float32Array(count);
  const widen = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < count; i++) {
    if (dtype === "F32") out[i] = view.getFloat32(i * 4, true);
    else if (dtype === "BF16") {
      widen.setUint32(0, view.getUint16(i * 2, true) << 16);
      out[i] = widen.getFloat32(0);
    } else out[i] = halfToFloat(view.getUint16(i * 2, true));
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The JSON header's entry for the first of `names` it holds, with its absolute byte range. */
export function locateTensor(headerLength: number, header: Record<string, unknown>, names: string[], file: string) {
  const name = names.find((n) => Object.hasOwn(header, n) && n !== "__metadata__");
  if (name === undefined) {
    throw new HubError("not-found", `${file} holds no tensor named ${names.join(" or ")}.`, "Check the manifest's tensor names.");
  }
  const entry = header[name] as HeaderEntry;
  if (!(entry.dtype in ELEMENT_BYTES)) {
    throw new HubError("http", `${file}: tensor ${name} is stored as ${entry.dtype}; only F32, F16 and BF16 are converted.`, "");
  }
  const [begin, end] = entry.data_offsets;
  const elements = entry.shape.reduce((a, b) => a * b, 1);
  if (!(end > begin) || end - begin !== elements * ELEMENT_BYTES[entry.dtype as StoredDtype] || end - begin > MAX_TENSOR_BYTES) {
    throw new HubError("http", `${file}: tensor ${name} has inconsistent offsets ${begin}..${end} for shape [${entry.shape}].`, "");
  }
  // Offsets count from the end of the header: 8 length bytes + the header itself.
  const start = 8 + headerLength + begin;
  return { name, dtype: entry.dtype as StoredDtype, shape: entry.shape, start, end: 8 + headerLength + end };
}

/** Bytes [start, end) of a hub file; refuses a server that ignores Range instead of streaming the whole file. */
async function rangeGet(ctx: HubContext, file: string, start: number, end: number): Promise<Uint8Array> {
  const url = resolveUrl(ctx.endpoint, ctx.repo, ctx.revision, file);
  const signal = AbortSignal.any([AbortSignal.timeout(ctx.timeoutMs), ...(ctx.signal ? [ctx.signal] : [])]);
  const { response } = await hubRequest(ctx, url, "GET", { range: `bytes=${start}-${end - 1}` }, signal);
  if (response.status !== 206) {
    await response.body?.cancel();
    if (response.status === 200) {
      throw new HubError("http", `${ctx.endpoint} ignored the Range request for ${file}.`, "Use an endpoint that supports HTTP Range.");
    }
    throw statusError(response.status, { endpoint: ctx.endpoint, repo: ctx.repo, revision: ctx.revision, file, tokenSet: Boolean(ctx.token) });
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength !== end - start) {
    throw new HubError("http", `${file}: asked for ${end - start} bytes at ${start}, got ${bytes.byteLength}.`, "Run the pull again.", { retryable: true });
  }
  return bytes;
}

async function readHeader(ctx: HubContext, file: string): Promise<{ headerLength: number; header: Record<string, unknown> }> {
  const lengthBytes = await rangeGet(ctx, file, 0, 8);
  const headerLength = Number(new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
    throw new HubError("http", `${file} does not start with a safetensors header (length ${headerLength}).`, "");
  }
  const headerBytes = await rangeGet(ctx, file, 8, 8 + headerLength);
  try {
    return { headerLength, header: JSON.parse(Buffer.from(headerBytes).toString("utf8")) as Record<string, unknown> };
  } catch {
    throw new HubError("http", `${file}'s safetensors header is not JSON.`, "");
  }
}

/** The shard holding one of `names`, from a sharded checkpoint's index (weight_map). */
async function shardFor(ctx: HubContext, indexFile: string, names: string[]): Promise<string> {
  const url = resolveUrl(ctx.endpoint, ctx.repo, ctx.revision, indexFile);
  const signal = AbortSignal.any([AbortSignal.timeout(ctx.timeoutMs), ...(ctx.signal ? [ctx.signal] : [])]);
  const { response } = await hubRequest(ctx, url, "GET", {}, signal);
  if (!response.ok) {
    await response.body?.cancel();
    throw statusError(response.status, { endpoint: ctx.endpoint, repo: ctx.repo, revision: ctx.revision, file: indexFile, tokenSet: Boolean(ctx.token) });
  }
  const index = (await response.json()) as { weight_map?: Record<string, string> };
  const shard = names.map((n) => index.weight_map?.[n]).find((s) => typeof s === "string");
  if (shard === undefined || !/^[A-Za-z0-9_.-]+\.safetensors$/.test(shard)) {
    throw new HubError("not-found", `${indexFile} maps no tensor named ${names.join(" or ")} to a shard.`, "");
  }
  return shard;
}

/** Fetches one tensor by Range requests (falling back to the shard index when the single file is absent). */
export async function fetchSafetensorsTensor(ctx: HubContext, request: TensorRequest): Promise<StoredTensor> {
  let file = request.file;
  let headerInfo: Awaited<ReturnType<typeof readHeader>>;
  try {
    headerInfo = await readHeader(ctx, file);
  } catch (error) {
    if (!(error instanceof HubError && error.kind === "not-found" && request.indexFile)) throw error;
    file = await shardFor(ctx, request.indexFile, request.names);
    headerInfo = await readHeader(ctx, file);
  }
  const tensor = locateTensor(headerInfo.headerLength, headerInfo.header, request.names, file);
  const bytes = await rangeGet(ctx, file, tensor.start, tensor.end);
  return storedTensor(tensor, bytes, { repository: ctx.repo, revision: ctx.revision, file, fetchedAt: new Date().toISOString() });
}

/** A located tensor's bytes as stored beside the model, with where they came from and their sha256. */
export function storedTensor(
  tensor: ReturnType<typeof locateTensor>,
  bytes: Uint8Array,
  source: Pick<StoredTensor["provenance"], "repository" | "revision" | "file" | "fetchedAt">,
): StoredTensor {
  return {
    name: tensor.name,
    shape: tensor.shape,
    storedDtype: tensor.dtype,
    values: Array.from(decodeTensorBytes(tensor.dtype, bytes)),
    provenance: {
      repository: source.repository,
      revision: source.revision,
      file: source.file,
      tensor: tensor.name,
      byteRange: [tensor.start, tensor.end],
      sha256: createHash("sha256").update(bytes).digest("hex"),
      fetchedAt: source.fetchedAt,
    },
  };
}

/** Writes a stored tensor atomically beside the model. */
export async function saveStoredTensor(dir: string, saveAs: string, tensor: StoredTensor): Promise<string> {
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, saveAs);
  await writeFile(`${target}.partial`, JSON.stringify(tensor, null, 1));
  await rename(`${target}.partial`, target);
  return target;
}

/** The stored tensor, or null when the file is absent; a malformed file is an error naming it. */
export function readStoredTensor(dir: string, saveAs: string): StoredTensor | null {
  const file = path.join(dir, saveAs);
  if (!existsSync(file)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}); delete it and run the pull again.`);
  }
  const parsed = storedTensorSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is not a stored tensor (${parsed.error.issues[0]?.message}); delete it and run the pull again.`);
  return parsed.data;
}

/** True when the tensor is already stored from this repository and revision (a stale or damaged copy is fetched again). */
function storedFrom(dir: string, saveAs: string, ctx: HubContext): boolean {
  try {
    const stored = readStoredTensor(dir, saveAs);
    return stored !== null && stored.provenance.repository === ctx.repo && stored.provenance.revision === ctx.revision;
  } catch {
    return false;
  }
}

/**
 * The pull hook: fetch each requested tensor not yet stored from this revision. A tensor that cannot be had does not fail
 * the pull (the model still works without it); the returned warnings say what is missing.
 */
export async function pullSafetensorsTensors(ctx: HubContext, dir: string, requests: TensorRequest[]): Promise<string[]> {
  const warnings: string[] = [];
  for (const request of requests) {
    if (storedFrom(dir, request.saveAs, ctx)) continue;
    try {
      await saveStoredTensor(dir, request.saveAs, await fetchSafetensorsTensor(ctx, request));
    } catch (error) {
      if (ctx.signal?.aborted) throw error;
      warnings.push(`${request.saveAs} could not be fetched from ${ctx.repo}/${request.file} (${(error as Error).message}).`);
    }
  }
  return warnings;
}

