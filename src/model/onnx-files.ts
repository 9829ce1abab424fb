/** How exports name their ONNX files: `onnx/<component><dtype suffix>.onnx`, as transformers.js does (utils/dtypes.js). */
export const DTYPE_SUFFIX = {
  fp32: "",
  fp16: "_fp16",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
  int8: "_int8",
  uint8: "_uint8",
  quantized: "_quantized",
} as const;
export type Dtype = keyof typeof DTYPE_SUFFIX;
export const DTYPES = Object.keys(DTYPE_SUFFIX) as Dtype[];

/**
 * Which variant a model directory without a stated choice uses: int8 first, since on CPU it measured fastest and
 * closest to fp32 (BENCHMARKS.md), as the manifests' defaults.
 */
export const DTYPE_PREFERENCE: readonly Dtype[] = ["int8", "uint8", "quantized", "fp32", "fp16", "q4", "q4f16", "bnb4"];

export function isDtype(value: string): value is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_SUFFIX, value);
}

/** `onnx/<component><suffix>.onnx`, relative to the model directory. */
export function onnxFileName(component: string, dtype: Dtype): string {
  return `onnx/${component}${DTYPE_SUFFIX[dtype]}.onnx`;
}
