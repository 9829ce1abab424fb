/** How the Idefics3 processor expands each `<image>` of the rendered chat template. */
export const IMAGE_TOKEN = "<image>";
const FAKE_TOKEN = "<fake_token_around_image>";
const GLOBAL_IMAGE_TOKEN = "<global-img>";

/** Rows and columns of one image's tiles (0 and 0 for a single global view). */
export interface ImageGrid {
  rows: number;
  cols: number;
}

/** The prompt text that stands for one image, as the Idefics3 processor expands `<image>`. */
export function expandImageToken(grid: ImageGrid, imageSeqLen: number): string {
  const globalBlock = FAKE_TOKEN + GLOBAL_IMAGE_TOKEN + IMAGE_TOKEN.repeat(imageSeqLen) + FAKE_TOKEN;
  if (grid.rows === 0 && grid.cols === 0) return globalBlock;
  let text = "";
  for (let r = 1; r <= grid.rows; r++) {
    for (let c = 1; c <= grid.cols; c++) text += `${FAKE_TOKEN}<row_${r}_col_${c}>${IMAGE_TOKEN.repeat(imageSeqLen)}`;
    text += "\n";
  }
  return `${text}\n${globalBlock}`;
}
