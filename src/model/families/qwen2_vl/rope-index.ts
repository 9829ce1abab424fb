/**
 * Qwen2-VL's multimodal rotary position ids (`get_rope_index` in modeling_qwen2_vl, one sequence, no
 * padding): text counts up on all three rows (t, h, w); an image block of llm grid (t, h/m, w/m) starts at
 * the next position and gets offset + (t index, row, column); text after it resumes at max + 1.
 */

export interface VisionTokenIds {
  imageTokenId: number;
  visionStartTokenId: number;
}

export interface RopeIndex {
  /** [3, 1, S] row-major: the t row, then h, then w. */
  positions: number[];
  /** max position + 1 − S: what generation adds to later steps. */
  ropeDelta: number;
}

/**
 * `grids` are the images' (t, h, w) patch grids in prompt order; each image is the `<|image_pad|>` run that
 * follows a `<|vision_start|>`, of t·(h/m)·(w/m) tokens.
 */
export function ropeIndex(inputIds: readonly number[], grids: readonly (readonly [number, number, number])[], mergeSize: number, ids: VisionTokenIds): RopeIndex {
  const S = inputIds.length;
  const rows = [new Array<number>(S), new Array<number>(S), new Array<number>(S)] as const;
  let next = 0;
  let cursor = 0;
  let image = 0;
  const text = (end: number): void => {
    for (; cursor < end; cursor++, next++) {
      rows[0][cursor] = next;
      rows[1][cursor] = next;
      rows[2][cursor] = next;
    }
  };
  for (let i = 0; i < S; i++) {
    if (inputIds[i] !== ids.visionStartTokenId || inputIds[i + 1] !== ids.imageTokenId) continue;
    const grid = grids[image++];
    if (!grid) throw new Error(`the prompt has more images than the ${grids.length} grids given`);
    const [t, h, w] = [grid[0], grid[1] / mergeSize, grid[2] / mergeSize];
    const start = i + 1;
    const length = t * h * w;
    for (let k = 0; k < length; k++) {
      if (inputIds[start + k] !== ids.imageTokenId) throw new Error(`image ${image} has fewer image tokens than its grid's ${length}`);
    }
    text(start);
    const offset = next;
    let maxPosition = offset;
    for (let k = 0; k < length; k++, cursor++) {
      rows[0][cursor] = offset + Math.floor(k / (h * w));
      rows[1][cursor] = offset + (Math.floor(k / w) % h);
      rows[2][cursor] = offset + (k % w);
      maxPosition = Math.max(maxPosition, rows[0][cursor], rows[1][cursor], rows[2][cursor]);
    }
    next = maxPosition + 1;
    i = cursor - 1;
  }
  if (image !== grids.length) throw new Error(`${grids.length} image grids for ${image} images in the prompt`);
  text(S);
  return { positions: [...rows[0], ...rows[1], ...rows[2]], ropeDelta: next - S };
}
