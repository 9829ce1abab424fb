/** Small seeded PRNG (mulberry32): fold assignment must be reproducible, Math.random is not. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Stratified k-fold assignment: each label's examples (in example order) are shuffled with the seed and dealt
 * round-robin over the folds, continuing where the previous label stopped so fold sizes differ by at most one.
 * Returns foldOf[i] in 0..folds-1.
 */
export function assignFolds(labelOf: Int32Array, classCount: number, folds: number, seed: number): Int32Array {
  const random = mulberry32(seed);
  const foldOf = new Int32Array(labelOf.length);
  let next = 0;
  for (let c = 0; c < classCount; c++) {
    const members: number[] = [];
    labelOf.forEach((label, index) => {
      if (label === c) members.push(index);
    });
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    for (const index of members) {
      foldOf[index] = next;
      next = (next + 1) % folds;
    }
  }
  return foldOf;
}
