/**
 * Binary form of a classifier, for the store:
 *
 *   offset 0   4 bytes   ASCII "SAVC"
 *   offset 4   uint32 LE format version (1)
 *   offset 8   uint32 LE byte length H of the header
 *   offset 12  H bytes   UTF-8 JSON: every SavClassifier field except `centroids`
 *   then zero padding to a multiple of 4 bytes
 *   then       float32 LE centroids, k * labels.length * headDim values
 *
 * JSON keeps scores and margins exact (numbers print with round-trip precision); the centroids stay binary.
 */
import { checkClassifier } from "./classify.js";
import { type SavClassifier, SavError } from "./types.js";

const MAGIC = [0x53, 0x41, 0x56, 0x43]; // "SAVC"
const VERSION = 1;
const PREFIX_BYTES = 12;

export function serializeClassifier(classifier: SavClassifier): Uint8Array {
  checkClassifier(classifier);
  const { centroids, ...rest } = classifier;
  const header = new TextEncoder().encode(JSON.stringify(rest));
  const centroidOffset = Math.ceil((PREFIX_BYTES + header.length) / 4) * 4;
  const bytes = new Uint8Array(centroidOffset + centroids.length * 4);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, header.length, true);
  bytes.set(header, PREFIX_BYTES);
  for (let i = 0; i < centroids.length; i++) view.setFloat32(centroidOffset + i * 4, centroids[i]!, true);
  return bytes;
}

export function deserializeClassifier(bytes: Uint8Array): SavClassifier {
  const fail = (why: string): never => {
    throw new SavError("invalid-classifier", `cannot read a serialised SAV classifier: ${why}`);
  };
  if (!(bytes instanceof Uint8Array) || bytes.length < PREFIX_BYTES) fail("too short");
  if (MAGIC.some((byte, i) => bytes[i] !== byte)) fail('missing the "SAVC" signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) fail(`format version ${version} is not supported (expected ${VERSION})`);
  const headerLength = view.getUint32(8, true);
  if (PREFIX_BYTES + headerLength > bytes.length) fail("truncated header");

  let header: Omit<SavClassifier, "centroids">;
  try {
    const headerBytes = bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength);
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch {
    return fail("the header is not valid UTF-8 JSON");
  }
  if (header === null || typeof header !== "object" || !Array.isArray(header.labels) || !header.shape) {
    fail("the header lacks labels or shape");
  }
  const centroidOffset = Math.ceil((PREFIX_BYTES + headerLength) / 4) * 4;
  const centroidCount = header.k * header.labels.length * header.shape.headDim;
  if (!Number.isInteger(centroidCount) || bytes.length !== centroidOffset + centroidCount * 4) {
    fail(`expected ${centroidOffset + centroidCount * 4} bytes, got ${bytes.length}`);
  }
  const centroids = new Float32Array(centroidCount);
  for (let i = 0; i < centroidCount; i++) centroids[i] = view.getFloat32(centroidOffset + i * 4, true);

  const classifier: SavClassifier = {
    format: header.format,
    shape: header.shape,
    labels: header.labels,
    k: header.k,
    selection: header.selection,
    heads: header.heads,
    centroids,
    exampleCount: header.exampleCount,
    examplesPerLabel: header.examplesPerLabel,
  };
  checkClassifier(classifier);
  return classifier;
}
