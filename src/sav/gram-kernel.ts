import { I32, op, V128, type WasmFunction } from "./wasm-assembler.js";

/** Rows per register block; the Gram matrix is padded to a multiple of it with zero rows. */
export const GRAM_BLOCK = 4;

// Locals of the kernel: parameters first, then the loop state, then 8 accumulators (4 rows × 2 column pairs).
const [A_PANELS, B_PANELS, RESULT, ROWS_A, ROWS_B, DIM] = [0, 1, 2, 3, 4, 5];
const [ROW, COL, STEP, A_PTR, B_PTR, PANEL_BYTES, STRIDE_BYTES, OUT] = [6, 7, 8, 9, 10, 11, 12, 13];
const ACC = 14;
const [B0, B1, A] = [22, 23, 24];

/**
 * (aPanels, bPanels, result, rowsA, rowsB, dim): result = A·Bᵀ (rowsA × rowsB, both multiples of 4).
 * Matrices are stored in 4-row panels (A[4p+r][d] at (p·dim + d)·4 + r): one step reads four rows' values
 * side by side, and a block's two panels are contiguous (a column walk with a stride of the matrix width
 * would thrash the cache). `symmetric` (A = B): "gram" computes only the upper block triangle and writes
 * each 4×4 block transposed too. Every entry is Σ_d a_i[d]·b_j[d] summed in d order in float64, with
 * separate multiply and add: bit for bit the scalar loop.
 */
export function productFunction(symmetric: boolean): WasmFunction {
  const accumulate: number[][] = [];
  for (let r = 0; r < GRAM_BLOCK; r++) {
    accumulate.push(op.get(A_PTR), op.load64Splat(8 * r), op.set(A));
    for (let pair = 0; pair < 2; pair++) {
      const acc = ACC + 2 * r + pair;
      accumulate.push(op.get(acc), op.get(A), op.get(pair === 0 ? B0 : B1), op.f64x2Mul, op.f64x2Add, op.set(acc));
    }
  }
  const storeRows: number[][] = [];
  for (let r = 0; r < GRAM_BLOCK; r++) {
    storeRows.push(op.get(OUT), op.get(ACC + 2 * r), op.v128Store(0));
    storeRows.push(op.get(OUT), op.get(ACC + 2 * r + 1), op.v128Store(16));
    storeRows.push(op.get(OUT), op.get(STRIDE_BYTES), op.add, op.set(OUT));
  }
  const storeTransposed: number[][] = [];
  for (let c = 0; c < GRAM_BLOCK; c++) {
    for (let r = 0; r < GRAM_BLOCK; r++) {
      const acc = ACC + 2 * r + (c >> 1);
      storeTransposed.push(op.get(OUT), op.get(acc), op.f64x2ExtractLane(c & 1), op.f64Store(8 * r));
    }
    storeTransposed.push(op.get(OUT), op.get(STRIDE_BYTES), op.add, op.set(OUT));
  }
  const zeroAccumulators = Array.from({ length: 8 }, (_, i) => [...op.v128Zero, ...op.set(ACC + i)]);
  return {
    name: symmetric ? "gram" : "products",
    params: [I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32, I32, I32, ...new Array<number>(11).fill(V128)],
    body: [
      op.get(DIM), op.i32(5), op.shl, op.set(PANEL_BYTES), // 4 rows × 8 bytes per step
      op.get(ROWS_B), op.i32(3), op.shl, op.set(STRIDE_BYTES),
      op.i32(0), op.set(ROW),
      op.block, op.loop,
      op.get(ROW), op.get(ROWS_A), op.ltU, op.eqz, op.brIf(1),
      symmetric ? op.get(ROW) : op.i32(0), op.set(COL),
      op.block, op.loop,
      op.get(COL), op.get(ROWS_B), op.ltU, op.eqz, op.brIf(1),
      ...zeroAccumulators,
      // The two panels: A_PTR = panels + (ROW / 4) · PANEL_BYTES, B_PTR likewise for COL
      op.get(A_PANELS), op.get(ROW), op.i32(2), op.shr, op.get(PANEL_BYTES), op.mul, op.add, op.set(A_PTR),
      op.get(B_PANELS), op.get(COL), op.i32(2), op.shr, op.get(PANEL_BYTES), op.mul, op.add, op.set(B_PTR),
      op.get(DIM), op.set(STEP),
      op.loop,
      op.get(B_PTR), op.v128Load(0), op.set(B0),
      op.get(B_PTR), op.v128Load(16), op.set(B1),
      ...accumulate,
      op.get(A_PTR), op.i32(32), op.add, op.set(A_PTR),
      op.get(B_PTR), op.i32(32), op.add, op.set(B_PTR),
      op.get(STEP), op.i32(1), op.sub, op.tee(STEP), op.brIf(0),
      op.end,
      // Rows ROW..ROW+3, columns COL..COL+3
      op.get(RESULT), op.get(ROW), op.get(STRIDE_BYTES), op.mul, op.add, op.get(COL), op.i32(3), op.shl, op.add, op.set(OUT),
      ...storeRows,
      // Rows COL..COL+3, columns ROW..ROW+3
      ...(symmetric
        ? [
            op.get(RESULT), op.get(COL), op.get(STRIDE_BYTES), op.mul, op.add, op.get(ROW), op.i32(3), op.shl, op.add,
            op.set(OUT),
            ...storeTransposed,
          ]
        : []),
      op.get(COL), op.i32(GRAM_BLOCK), op.add, op.set(COL),
      op.br(0),
      op.end, op.end,
      op.get(ROW), op.i32(GRAM_BLOCK), op.add, op.set(ROW),
      op.br(0),
      op.end, op.end,
    ],
  };
}

