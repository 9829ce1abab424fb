/**
 * M-RoPE position ids equal get_rope_index: the 89-token worked example of vlm-families.md §A5, and
 * transformers.js's own implementation on several layouts (images first, between text, two images, no
 * trailing text).
 */
import { Qwen2VLForConditionalGeneration, Tensor } from "@huggingface/transformers";
import { describe, expect, it } from "vitest";
import { ropeIndex } from "../../../src/model/families/qwen2_vl/rope-index.js";
import { QWEN2_VL_TOKEN_IDS as ID } from "../../../src/model/families/qwen2_vl/tiny/published.js";

const ids = { imageTokenId: ID.image, visionStartTokenId: ID.visionStart };
type Grid = [number, number, number];

function imageBlock(grid: Grid): number[] {
  return [ID.visionStart, ...new Array<number>((grid[0] * grid[1] * grid[2]) / 4).fill(ID.image), ID.visionEnd];
}

function text(n: number, from = 100): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** transformers.js's get_rope_index, run on a bare object holding only the config it reads. */
function transformersJsPositions(inputIds: number[], grids: Grid[]): { positions: number[]; delta: number } {
  const model = Object.create(Qwen2VLForConditionalGeneration.prototype) as Qwen2VLForConditionalGeneration & {
    get_rope_index(...args: unknown[]): [Tensor, Tensor];
  };
  Object.defineProperty(model, "config", {
    value: { image_token_id: ID.image, video_token_id: ID.video, vision_start_token_id: ID.visionStart, vision_config: { spatial_merge_size: 2 } },
  });
  const input = new Tensor("int64", BigInt64Array.from(inputIds.map(BigInt)), [1, inputIds.length]);
  const gridTensor = new Tensor("int64", BigInt64Array.from(grids.flat().map(BigInt)), [grids.length, 3]);
  const [positions, deltas] = model.get_rope_index(input, gridTensor, null, null);
  expect(positions.dims).toEqual([3, 1, inputIds.length]);
  return { positions: Array.from(positions.data as BigInt64Array, Number), delta: Number((deltas.data as BigInt64Array | number[])[0]) };
}

describe("ropeIndex", () => {
  it("gives the 89-token example: text 0..14, image t=15 h,w=15..22, trailing text 23..32, delta −56", () => {
    const inputIds = [...text(14), ...imageBlock([1, 16, 16]), ...text(9)];
    expect(inputIds).toHaveLength(89);
    const { positions, ropeDelta } = ropeIndex(inputIds, [[1, 16, 16]], 2, ids);
    const [t, h, w] = [positions.slice(0, 89), positions.slice(89, 178), positions.slice(178)];
    for (const row of [t, h, w]) expect(row.slice(0, 15)).toEqual(text(15, 0));
    expect(new Set(t.slice(15, 79))).toEqual(new Set([15]));
    expect(h.slice(15, 79)).toEqual(Array.from({ length: 64 }, (_, k) => 15 + Math.floor(k / 8)));
    expect(w.slice(15, 79)).toEqual(Array.from({ length: 64 }, (_, k) => 15 + (k % 8)));
    for (const row of [t, h, w]) expect(row.slice(79)).toEqual(text(10, 23));
    expect(ropeDelta).toBe(-56);
  });

  const layouts: [string, number[], Grid[]][] = [
    ["one image between text", [...text(5), ...imageBlock([1, 6, 10]), ...text(7)], [[1, 6, 10]]],
    ["two images of different grids", [...text(3), ...imageBlock([1, 4, 4]), ...text(2), ...imageBlock([1, 8, 2]), ...text(4)], [[1, 4, 4], [1, 8, 2]]],
    ["an image at the very start", [...imageBlock([1, 2, 6]), ...text(3)], [[1, 2, 6]]],
    ["no text after the image", [...text(4), ID.visionStart, ...new Array<number>(6).fill(ID.image)], [[1, 4, 6]]],
  ];
  for (const [name, inputIds, grids] of layouts) {
    it(`equals transformers.js's get_rope_index: ${name}`, () => {
      const ours = ropeIndex(inputIds, grids, 2, ids);
      const theirs = transformersJsPositions(inputIds, grids);
      expect(ours.positions).toEqual(theirs.positions);
      expect(ours.ropeDelta).toBe(theirs.delta);
    });
  }

  it("refuses a prompt whose image tokens do not match the grids", () => {
    const inputIds = [...text(2), ...imageBlock([1, 4, 4]), ...text(2)];
    expect(() => ropeIndex(inputIds, [[1, 4, 8]], 2, ids)).toThrow(/fewer image tokens/);
    expect(() => ropeIndex(inputIds, [], 2, ids)).toThrow(/more images/);
    expect(() => ropeIndex(inputIds, [[1, 4, 4], [1, 4, 4]], 2, ids)).toThrow(/2 image grids for 1 images/);
  });
});
