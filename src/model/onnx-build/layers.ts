/** Layer pieces the generated graphs share, in the op order torch.onnx.export writes (so node names match). */
import { attr, type GraphBuilder } from "./graph-builder.js";

/** RMSNorm over the last axis: weight · x / sqrt(mean(x²) + eps); `weight` is an initializer already added. */
export function rmsNorm(b: GraphBuilder, scope: string, x: string, weight: string, eps: number): string {
  const variance = b.op(scope, "ReduceMean", [b.op(scope, "Pow", [x, b.float([2])])], { attrs: { axes: attr.ints([-1]), keepdims: attr.int(1) } });
  const inv = b.op(scope, "Reciprocal", [b.op(scope, "Sqrt", [b.op(scope, "Add", [variance, b.float([eps])])])]);
  return b.op(scope, "Mul", [weight, b.op(scope, "Mul", [x, inv])]);
}

/** Rotary embedding on the last axis (width headDim): x · cos + rotate_half(x) · sin, rotate_half(x) = cat(-x[..., half:], x[..., :half]). */
export function applyRotary(b: GraphBuilder, scope: string, x: string, cos: string, sin: string, headDim: number): string {
  const half = headDim / 2;
  const first = b.op(scope, "Slice", [x, b.int64([0]), b.int64([half]), b.int64([-1])]);
  const second = b.op(scope, "Slice", [x, b.int64([half]), b.int64([headDim]), b.int64([-1])]);
  const rotated = b.op(scope, "Concat", [b.op(scope, "Neg", [second]), first], { attrs: { axis: attr.int(-1) } });
  return b.op(scope, "Add", [b.op(scope, "Mul", [x, cos]), b.op(scope, "Mul", [rotated, sin])]);
}
