import { F64, I32, op, type WasmFunction } from "./wasm-assembler.js";
import { DEGENERATE_SUM_RATIO } from "./head-scoring.js";

// Parameters: fold and sizes, array addresses (bytes), the fold's class-a statistics, where to write.
const [HELD_OUT, A, N, STRIDE, LABELS, GRAM, DOTS_BY_CLASS, RIVAL_COSINE, RIVAL_CLASS, OWN_BEATS] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
];
const [OWN_COSINE, INVERSE_SELF, SELF_SQUARED, SELECTION_LOO, INVERSE_SUM_A, SUM_SQUARED_A, MEMBER_SQUARED_A, OUT] =
  [10, 11, 12, 13, 14, 15, 16, 17];
const PARAMS = [...new Array<number>(14).fill(I32), F64, F64, F64, I32];
// Locals
const [J, OWN, CORRECT, ROW_PTR, CLASS_BASE, AT] = [18, 19, 20, 21, 22, 23];
const [MARGIN_SUM, DOT_A, RIVAL, CHANGED, OWN_VALUE, SELF, SQUARED] = [24, 25, 26, 27, 28, 29, 30];

/** Address of element `index` (a local) of the array whose address is in local `base`, elements 2^log2 bytes. */
const address = (base: number, index: number, log2: number): number[] => [
  ...op.get(base), ...op.get(index), ...op.i32(log2), ...op.shl, ...op.add,
];

/** Pushes inverseNorm(normSquared, memberNormSquared) of head-scoring.ts: the same operations in order. */
const inverseNorm = (normSquared: number[], memberNormSquared: number[]): number[] => [
  ...op.f64(1), ...normSquared, ...op.f64Sqrt, ...op.f64Div,
  ...op.f64(0),
  ...normSquared, ...op.f64(DEGENERATE_SUM_RATIO), ...memberNormSquared, ...op.f64Mul, ...op.f64Gt,
  ...normSquared, ...op.f64(0), ...op.f64Gt, ...op.and,
  ...op.select,
];

/**
 * score(…): LeaveOneOutScorer.score's loop over the training examples of one fold, branch-free where the
 * outcome is data-dependent (JavaScript's compares cost a mispredicted branch each). Writes the number of
 * correct examples and the summed margin as two float64 at OUT. The arithmetic is the JavaScript's,
 * operation for operation, so results are bit-identical.
 */
export function leaveOneOutScoreFunction(): WasmFunction {
  // changed = dotA · 1/|x_j| · 1/|S_a − x_i|
  const changedFromFold = [
    op.get(DOT_A), address(INVERSE_SELF, J, 3), op.f64Load(), op.f64Mul, op.get(INVERSE_SUM_A), op.f64Mul,
  ];
  return {
    name: "scoreLeaveOneOut",
    params: PARAMS,
    locals: [I32, I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, F64, F64],
    body: [
      op.get(GRAM), op.get(HELD_OUT), op.get(STRIDE), op.mul, op.i32(3), op.shl, op.add, op.set(ROW_PTR),
      op.get(A), op.get(N), op.mul, op.set(CLASS_BASE),
      op.i32(0), op.set(J),
      op.block, op.loop,
      op.get(J), op.get(N), op.geU, op.brIf(1),
      op.get(J), op.get(HELD_OUT), op.ne, op.if,
      address(LABELS, J, 2), op.i32Load(), op.set(OWN),
      op.get(CLASS_BASE), op.get(J), op.add, op.set(AT),
      address(DOTS_BY_CLASS, AT, 3), op.f64Load(), address(ROW_PTR, J, 3), op.f64Load(), op.f64Sub, op.set(DOT_A),
      address(RIVAL_COSINE, AT, 3), op.f64Load(), op.set(RIVAL),
      op.get(OWN), op.get(A), op.ne, op.if,
      // Another class's example: only a's sum changed.
      ...changedFromFold, op.set(CHANGED),
      address(OWN_COSINE, J, 3), op.f64Load(), op.set(OWN_VALUE),
      op.get(CORRECT),
      address(OWN_BEATS, AT, 2), op.i32Load(),
      op.get(OWN_VALUE), op.get(CHANGED), op.f64Gt,
      op.get(OWN_VALUE), op.get(CHANGED), op.f64Eq, op.get(OWN), op.get(A), op.ltS, op.and,
      op.or, op.and, op.add, op.set(CORRECT),
      // marginSum += ownValue − (changed > rival ? changed : rival)
      op.get(MARGIN_SUM), op.get(OWN_VALUE),
      op.get(CHANGED), op.get(RIVAL), op.get(CHANGED), op.get(RIVAL), op.f64Gt, op.select,
      op.f64Sub, op.f64Add, op.set(MARGIN_SUM),
      op.else,
      // An example of the held-out class: its own sum changed (and, with leave-one-out selection, lost it too).
      op.get(SELECTION_LOO), op.if,
      address(SELF_SQUARED, J, 3), op.f64Load(), op.set(SELF),
      op.get(SUM_SQUARED_A), op.f64(2), op.get(DOT_A), op.f64Mul, op.f64Sub, op.get(SELF), op.f64Add, op.set(SQUARED),
      op.get(DOT_A), op.get(SELF), op.f64Sub, address(INVERSE_SELF, J, 3), op.f64Load(), op.f64Mul,
      inverseNorm([...op.get(SQUARED)], [...op.get(MEMBER_SQUARED_A), ...op.get(SELF), ...op.f64Sub]),
      op.f64Mul, op.set(CHANGED),
      op.else,
      ...changedFromFold, op.set(CHANGED),
      op.end,
      // correct unless the rival beats it (ties to the lower class index)
      op.get(CORRECT),
      op.get(RIVAL), op.get(CHANGED), op.f64Gt,
      op.get(RIVAL), op.get(CHANGED), op.f64Eq, address(RIVAL_CLASS, AT, 2), op.i32Load(), op.get(A), op.ltS, op.and,
      op.or, op.eqz, op.add, op.set(CORRECT),
      op.get(MARGIN_SUM), op.get(CHANGED), op.get(RIVAL), op.f64Sub, op.f64Add, op.set(MARGIN_SUM),
      op.end,
      op.end,
      op.get(J), op.i32(1), op.add, op.set(J),
      op.br(0),
      op.end, op.end,
      op.get(OUT), op.get(CORRECT), op.f64FromI32, op.f64Store(0),
      op.get(OUT), op.get(MARGIN_SUM), op.f64Store(8),
    ],
  };
}
