import { type Classification, type HeadVote, type SavClassifier, SavError } from "./types.js";
import { VoteTally } from "./vote.js";

/** Cheap structural checks, so a corrupted or foreign object fails with a clear error instead of garbage. */
export function checkClassifier(classifier: SavClassifier): void {
  const fail = (why: string): never => {
    throw new SavError("invalid-classifier", `not a usable SAV classifier: ${why}`);
  };
  if (classifier === null || typeof classifier !== "object") fail("expected an object");
  if (classifier.format !== "sav-classifier/1") fail(`unknown format ${JSON.stringify(classifier.format)}`);
  const { shape, labels, heads, centroids, k } = classifier;
  const positive = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n >= 1;
  if (!shape || !positive(shape.layers) || !positive(shape.heads) || !positive(shape.headDim)) fail("bad shape");
  if (!Array.isArray(labels) || labels.length < 2) fail("needs at least two labels");
  if (!positive(k) || !Array.isArray(heads) || heads.length !== k) fail("heads.length must equal k");
  for (const head of heads) {
    if (
      !Number.isInteger(head.layer) ||
      !Number.isInteger(head.head) ||
      head.layer < 0 ||
      head.layer >= shape.layers ||
      head.head < 0 ||
      head.head >= shape.heads
    ) {
      fail(`head (${head.layer}, ${head.head}) is outside the shape`);
    }
  }
  if (!(centroids instanceof Float32Array) || centroids.length !== k * labels.length * shape.headDim) {
    fail("centroids must be a Float32Array of k * labels * headDim values");
  }
}

/**
 * Labels one example. `vector` is row-major [layers, heads, headDim]; it may be a prefix that covers only
 * layers 0..L-1 (from a truncated decoder) as long as L includes the deepest kept head. Only the kept heads
 * are read.
 */
export function classify(classifier: SavClassifier, vector: Float32Array): Classification {
  checkClassifier(classifier);
  const { shape, labels, heads, centroids, k } = classifier;
  const dim = shape.headDim;
  const layerStride = shape.heads * dim;
  const classCount = labels.length;

  if (!(vector instanceof Float32Array)) {
    throw new SavError("invalid-vector", "the query vector must be a Float32Array");
  }
  let deepestLayer = 0;
  for (const head of heads) deepestLayer = Math.max(deepestLayer, head.layer);
  const full = shape.layers * layerStride;
  const needed = (deepestLayer + 1) * layerStride;
  if (vector.length % layerStride !== 0 || vector.length < needed || vector.length > full) {
    throw new SavError(
      "shape-mismatch",
      `the query has ${vector.length} values; it must hold whole layers of ${shape.heads}x${dim} values, ` +
        `at least layers 0..${deepestLayer} (${needed} values, the deepest kept head) and at most ${shape.layers} ` +
        `layers (${full}). Was it extracted with the model this classifier was built for?`,
    );
  }

  // Validate only what is read: NaN/Inf in any kept head, or kept heads that are all zero.
  let anyNonZero = false;
  for (const head of heads) {
    const offset = head.layer * layerStride + head.head * dim;
    for (let d = 0; d < dim; d++) {
      const v = vector[offset + d]!;
      if (!Number.isFinite(v)) {
        throw new SavError(
          "invalid-vector",
          `the query contains ${v} at layer ${head.layer}, head ${head.head}; head vectors must be finite`,
        );
      }
      if (v !== 0) anyNonZero = true;
    }
  }
  if (!anyNonZero) {
    throw new SavError("invalid-vector", "the query is all zeros at every kept head; was it extracted?");
  }

  const tally = new VoteTally(classCount);
  const headVotes: HeadVote[] = [];
  heads.forEach((head, rank) => {
    const offset = head.layer * layerStride + head.head * dim;
    let normSquared = 0;
    for (let d = 0; d < dim; d++) normSquared += vector[offset + d]! * vector[offset + d]!;
    // A zero head has no direction: all its cosines are 0 and it votes for the first label.
    const inverseNorm = normSquared > 0 ? 1 / Math.sqrt(normSquared) : 0;
    let best = 0;
    let bestDot = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const base = (rank * classCount + c) * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += vector[offset + d]! * centroids[base + d]!;
      if (dot > bestDot) {
        bestDot = dot;
        best = c;
      }
    }
    const similarity = bestDot * inverseNorm;
    tally.add(best, similarity);
    headVotes.push({ layer: head.layer, head: head.head, label: labels[best]!, similarity });
  });

  const winner = tally.winner();
  return {
    label: labels[winner]!,
    share: tally.votes[winner]! / k,
    votes: Object.fromEntries(labels.map((label, c) => [label, tally.votes[c]!])),
    heads: headVotes,
  };
}
