/**
 * Test oracle: a line-by-line TypeScript transcription of transformers' Python for LLaVA-OneVision
 * (`select_best_resolution`, `get_anyres_image_grid_shape`, `unpad_image`, `pack_image_features`,
 * `nn.functional.interpolate(mode="bilinear")`), on a tiny strided tensor type in float64. It is
 * deliberately written tensor-op by tensor-op, not like the production code's direct indexing,
 * so that the two can disagree.
 */

export class Tensor {
  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
  ) {
    if (shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`shape ${shape} does not hold ${data.length} values`);
  }

  static from(shape: number[], values: ArrayLike<number>): Tensor {
    return new Tensor(shape, Float64Array.from(values));
  }

  private strides(): number[] {
    const strides = new Array<number>(this.shape.length).fill(1);
    for (let i = this.shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * this.shape[i + 1];
    return strides;
  }

  get(index: number[]): number {
    const strides = this.strides();
    return this.data[index.reduce((at, v, i) => at + v * strides[i], 0)];
  }

  /** Same data, new shape; one -1 is inferred (torch `view`). */
  view(shape: number[]): Tensor {
    const known = shape.filter((v) => v !== -1).reduce((a, b) => a * b, 1);
    return new Tensor(
      shape.map((v) => (v === -1 ? this.data.length / known : v)),
      this.data,
    );
  }

  permute(order: number[]): Tensor {
    const shape = order.map((d) => this.shape[d]);
    const out = new Float64Array(this.data.length);
    const index = new Array<number>(shape.length).fill(0);
    for (let flat = 0; flat < out.length; flat++) {
      const source = new Array<number>(shape.length);
      order.forEach((d, i) => (source[d] = index[i]));
      out[flat] = this.get(source);
      for (let i = shape.length - 1; i >= 0; i--) {
        if (++index[i] < shape[i]) break;
        index[i] = 0;
      }
    }
    return new Tensor(shape, out);
  }

  flatten(start: number, end: number): Tensor {
    const merged = this.shape.slice(start, end + 1).reduce((a, b) => a * b, 1);
    return this.view([...this.shape.slice(0, start), merged, ...this.shape.slice(end + 1)]);
  }

  transpose(a: number, b: number): Tensor {
    const order = this.shape.map((_, i) => i);
    [order[a], order[b]] = [order[b], order[a]];
    return this.permute(order);
  }

  /** `tensor[..., from:to, ...]` along one dimension. */
  slice(dim: number, from: number, to: number): Tensor {
    const shape = [...this.shape];
    shape[dim] = to - from;
    const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
    const index = new Array<number>(shape.length).fill(0);
    for (let flat = 0; flat < out.length; flat++) {
      const source = [...index];
      source[dim] += from;
      out[flat] = this.get(source);
      for (let i = shape.length - 1; i >= 0; i--) {
        if (++index[i] < shape[i]) break;
        index[i] = 0;
      }
    }
    return new Tensor(shape, out);
  }

  /** torch.cat((this, other), dim). */
  cat(other: Tensor, dim: number): Tensor {
    const shape = [...this.shape];
    shape[dim] += other.shape[dim];
    const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
    const index = new Array<number>(shape.length).fill(0);
    for (let flat = 0; flat < out.length; flat++) {
      if (index[dim] < this.shape[dim]) out[flat] = this.get(index);
      else {
        const source = [...index];
        source[dim] -= this.shape[dim];
        out[flat] = other.get(source);
      }
      for (let i = shape.length - 1; i >= 0; i--) {
        if (++index[i] < shape[i]) break;
        index[i] = 0;
      }
    }
    return new Tensor(shape, out);
  }
}

type Pair = [number, number];

/** select_best_resolution(original_size=(h, w), possible_resolutions=[(h, w), …]). */
export function selectBestResolution(originalSize: Pair, possibleResolutions: Pair[]): Pair {
  const [originalHeight, originalWidth] = originalSize;
  let bestFit: Pair | null = null;
  let maxEffectiveResolution = 0;
  let minWastedResolution = Infinity;
  for (const [height, width] of possibleResolutions) {
    const scale = Math.min(width / originalWidth, height / originalHeight);
    const downscaledWidth = Math.trunc(originalWidth * scale);
    const downscaledHeight = Math.trunc(originalHeight * scale);
    const effectiveResolution = Math.min(downscaledWidth * downscaledHeight, originalWidth * originalHeight);
    const wastedResolution = width * height - effectiveResolution;
    if (
      effectiveResolution > maxEffectiveResolution ||
      (effectiveResolution === maxEffectiveResolution && wastedResolution < minWastedResolution)
    ) {
      maxEffectiveResolution = effectiveResolution;
      minWastedResolution = wastedResolution;
      bestFit = [height, width];
    }
  }
  return bestFit!;
}

export function getAnyresImageGridShape(imageSize: Pair, gridPinpoints: Pair[], patchSize: number): Pair {
  const [height, width] = selectBestResolution(imageSize, gridPinpoints);
  return [Math.floor(height / patchSize), Math.floor(width / patchSize)];
}

/** Python's round(x, 7) then int(). */
function pyIntRound7(x: number): number {
  return Math.trunc(Math.round(x * 1e7) / 1e7);
}

export function unpadImage(tensor: Tensor, originalSize: Pair): Tensor {
  const [originalHeight, originalWidth] = originalSize;
  const [, currentHeight, currentWidth] = tensor.shape;
  const originalAspectRatio = originalWidth / originalHeight;
  const currentAspectRatio = currentWidth / currentHeight;
  if (originalAspectRatio > currentAspectRatio) {
    const scaleFactor = currentWidth / originalWidth;
    const newHeight = pyIntRound7(originalHeight * scaleFactor);
    const padding = Math.floor((currentHeight - newHeight) / 2);
    return tensor.slice(1, padding, currentHeight - padding);
  }
  const scaleFactor = currentHeight / originalHeight;
  const newWidth = pyIntRound7(originalWidth * scaleFactor);
  const padding = Math.floor((currentWidth - newWidth) / 2);
  return tensor.slice(2, padding, currentWidth - padding);
}

/** nn.functional.interpolate(x[None], [outH, outW], mode="bilinear")[0] for x = (C, H, W), align_corners=False. */
export function interpolateBilinear(tensor: Tensor, outHeight: number, outWidth: number): Tensor {
  const [channels, inHeight, inWidth] = tensor.shape;
  const out = new Float64Array(channels * outHeight * outWidth);
  const source = (dst: number, inSize: number, outSize: number) => Math.max(((dst + 0.5) * inSize) / outSize - 0.5, 0);
  for (let c = 0; c < channels; c++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const sy = source(oy, inHeight, outHeight);
      const y0 = Math.floor(sy);
      const y1 = Math.min(y0 + 1, inHeight - 1);
      const ly = sy - y0;
      for (let ox = 0; ox < outWidth; ox++) {
        const sx = source(ox, inWidth, outWidth);
        const x0 = Math.floor(sx);
        const x1 = Math.min(x0 + 1, inWidth - 1);
        const lx = sx - x0;
        const value =
          (1 - ly) * ((1 - lx) * tensor.get([c, y0, x0]) + lx * tensor.get([c, y0, x1])) +
          ly * ((1 - lx) * tensor.get([c, y1, x0]) + lx * tensor.get([c, y1, x1]));
        out[(c * outHeight + oy) * outWidth + ox] = value;
      }
    }
  }
  return new Tensor([channels, outHeight, outWidth], out);
}

export interface OracleConfig {
  imageSize: number;
  patchSize: number;
  gridPinpoints: Pair[];
  visionAspectRatio: string;
}

/** pack_image_features for one image: image_feature (num_patches, image_length, embed_dim) → (rows, embed_dim). */
export function packImageFeatures(imageFeature: Tensor, imageSize: Pair, imageNewline: Tensor, config: OracleConfig): Tensor {
  const embedDim = imageFeature.shape[2];
  if (imageFeature.shape[0] > 1) {
    const baseImageFeature = imageFeature.slice(0, 0, 1).view([imageFeature.shape[1], embedDim]);
    let feature = imageFeature.slice(0, 1, imageFeature.shape[0]);
    const height = Math.floor(config.imageSize / config.patchSize);
    const width = height;
    if (height * width !== baseImageFeature.shape[0]) throw new Error("The number of patches is not consistent with the image size.");
    const [numPatchHeight, numPatchWidth] = getAnyresImageGridShape(imageSize, config.gridPinpoints, config.imageSize);
    feature = feature.view([numPatchHeight, numPatchWidth, height, width, -1]);
    feature = feature.permute([4, 0, 2, 1, 3]);
    feature = feature.flatten(1, 2).flatten(2, 3);
    feature = unpadImage(feature, imageSize);
    const maxNumPatches = Number(config.visionAspectRatio.replace(/^anyres_max_/, ""));
    const [, currHeight, currWidth] = feature.shape;
    const ratio = Math.sqrt((currHeight * currWidth) / (maxNumPatches * height ** 2));
    if (ratio > 1.1) {
      feature = interpolateBilinear(feature, Math.floor(currHeight / ratio), Math.floor(currWidth / ratio));
    }
    const [channels, rows] = feature.shape;
    const newlineColumn = new Float64Array(channels * rows);
    for (let c = 0; c < channels; c++) newlineColumn.fill(imageNewline.data[c], c * rows, (c + 1) * rows);
    feature = feature.cat(new Tensor([channels, rows, 1], newlineColumn), 2);
    feature = feature.flatten(1, 2).transpose(0, 1);
    return baseImageFeature.cat(feature, 0);
  }
  const only = imageFeature.view([imageFeature.shape[1], embedDim]);
  return only.cat(imageNewline.view([1, embedDim]), 0);
}
