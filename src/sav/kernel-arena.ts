import { GRAM_BLOCK, productFunction } from "./gram-kernel.js";
import { leaveOneOutScoreFunction } from "./loo-kernel.js";
import { assembleModule } from "./wasm-assembler.js";

const PAGE_BYTES = 65536;

/** The part of the WebAssembly API used here (Node has it; the project's type libraries do not declare it). */
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
let compiled: object | undefined;

type ProductExport = (aPanels: number, bPanels: number, result: number, rowsA: number, rowsB: number, dim: number) => void;
type ScoreExport = (...args: number[]) => void;

/**
 * The WebAssembly kernels of cross-validation and the arrays they read, all in one WebAssembly memory
 * (sized once for n examples of `dim` values and `classCount` classes): the per-head Gram matrix, and the
 * per-head tables of the leave-one-out scorer. The views stay valid for the arena's lifetime.
 */
export class KernelArena {
  readonly n: number;
  readonly dim: number;
  /** Row stride of the Gram matrix: n rounded up to a multiple of GRAM_BLOCK (padding rows are zero). */
  readonly stride: number;
  readonly gram: Float64Array;
  readonly labels: Int32Array;
  /** Class-major [class][example] tables of LeaveOneOutScorer. */
  readonly dotsByClass: Float64Array;
  readonly rivalCosine: Float64Array;
  readonly rivalClass: Int32Array;
  readonly ownBeatsUnchanged: Int32Array;
  /** Per-example tables of LeaveOneOutScorer. */
  readonly ownCosine: Float64Array;
  readonly inverseSelf: Float64Array;
  readonly selfSquared: Float64Array;
  private readonly classCount: number;
  private readonly paddedClasses: number;
  private readonly panels: Float64Array;
  private readonly sumPanels: Float64Array;
  private readonly products: Float64Array;
  private readonly out: Float64Array;
  private readonly gramExport: ProductExport;
  private readonly productsExport: ProductExport;
  private readonly scoreExport: ScoreExport;

  constructor(n: number, dim: number, classCount: number) {
    this.n = n;
    this.dim = dim;
    const stride = Math.ceil(n / GRAM_BLOCK) * GRAM_BLOCK;
    this.stride = stride;
    this.classCount = classCount;
    const paddedClasses = Math.ceil(classCount / GRAM_BLOCK) * GRAM_BLOCK;
    this.paddedClasses = paddedClasses;
    const regions: [kind: "f64" | "i32", length: number][] = [
      ["f64", stride * dim], // panels
      ["f64", stride * stride], // gram
      ["i32", n], // labels
      ["f64", n * classCount],
      ["f64", n * classCount],
      ["i32", n * classCount],
      ["i32", n * classCount],
      ["f64", n],
      ["f64", n],
      ["f64", n],
      ["f64", 2], // out
      ["f64", paddedClasses * dim], // class sums in panels
      ["f64", stride * paddedClasses], // products with the class sums
    ];
    const offsets: number[] = [];
    let bytes = 0;
    for (const [kind, length] of regions) {
      offsets.push(bytes);
      bytes += Math.ceil((length * (kind === "f64" ? 8 : 4)) / 16) * 16;
    }
    const memory = new wasm.Memory({ initial: Math.ceil(bytes / PAGE_BYTES) });
    compiled ??= new wasm.Module(
      assembleModule([productFunction(true), productFunction(false), leaveOneOutScoreFunction()]),
    );
    const { exports } = new wasm.Instance(compiled, { env: { memory } });
    this.gramExport = exports.gram as ProductExport;
    this.productsExport = exports.products as ProductExport;
    this.scoreExport = exports.scoreLeaveOneOut as ScoreExport;
    const views = regions.map(([kind, length], index) =>
      kind === "f64"
        ? new Float64Array(memory.buffer, offsets[index]!, length)
        : new Int32Array(memory.buffer, offsets[index]!, length),
    );
    [this.panels, this.gram] = views as [Float64Array, Float64Array];
    this.labels = views[2] as Int32Array;
    [this.dotsByClass, this.rivalCosine] = views.slice(3, 5) as [Float64Array, Float64Array];
    [this.rivalClass, this.ownBeatsUnchanged] = views.slice(5, 7) as [Int32Array, Int32Array];
    [this.ownCosine, this.inverseSelf, this.selfSquared, this.out, this.sumPanels, this.products] = views.slice(
      7,
    ) as Float64Array[] as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  }

  /** Gram matrix of the rows of `packed` (n × dim, row-major) into `gram`, rows `stride` apart. */
  computeGram(packed: Float64Array): Float64Array {
    const { n, dim, panels, stride } = this;
    toPanels(packed, n, dim, panels);
    this.gramExport(panels.byteOffset, panels.byteOffset, this.gram.byteOffset, stride, stride, dim);
    return this.gram;
  }

  /**
   * dots[j·C + c] = x_j · sums_c for the rows of the last computeGram and the class sums (C × dim,
   * row-major), each summed in d order like the scalar loop.
   */
  computeDots(sums: Float64Array, dots: Float64Array): void {
    const { n, dim, classCount, paddedClasses, sumPanels, products } = this;
    toPanels(sums, classCount, dim, sumPanels);
    this.productsExport(this.panels.byteOffset, sumPanels.byteOffset, products.byteOffset, this.stride, paddedClasses, dim);
    for (let j = 0; j < n; j++) {
      for (let c = 0; c < classCount; c++) dots[j * classCount + c] = products[j * paddedClasses + c]!;
    }
  }

  /** The training score of one leave-one-out fold from the tables (see loo-kernel.ts). */
  scoreLeaveOneOut(
    heldOut: number,
    heldOutClass: number,
    selectionLeaveOneOut: boolean,
    inverseSumA: number,
    sumSquaredA: number,
    memberSquaredA: number,
  ): { correct: number; marginSum: number } {
    this.scoreExport(
      heldOut,
      heldOutClass,
      this.n,
      this.stride,
      this.labels.byteOffset,
      this.gram.byteOffset,
      this.dotsByClass.byteOffset,
      this.rivalCosine.byteOffset,
      this.rivalClass.byteOffset,
      this.ownBeatsUnchanged.byteOffset,
      this.ownCosine.byteOffset,
      this.inverseSelf.byteOffset,
      this.selfSquared.byteOffset,
      selectionLeaveOneOut ? 1 : 0,
      inverseSumA,
      sumSquaredA,
      memberSquaredA,
      this.out.byteOffset,
    );
    return { correct: this.out[0]!, marginSum: this.out[1]! };
  }
}

/** Row-major rows × dim into 4-row panels (see gram-kernel.ts); padding rows stay zero. */
function toPanels(rows: Float64Array, count: number, dim: number, panels: Float64Array): void {
  for (let i = 0; i < count; i++) {
    const panel = (i >> 2) * dim * GRAM_BLOCK + (i & 3);
    const row = i * dim;
    for (let d = 0; d < dim; d++) panels[panel + d * GRAM_BLOCK] = rows[row + d]!;
  }
}
