/**
 * A minimal WebAssembly binary writer, just enough for the Gram-matrix kernel: JavaScript has no SIMD, but
 * WebAssembly's 128-bit SIMD runs two float64 multiply-adds per instruction. Writing the few opcodes here keeps
 * the kernel readable TypeScript (no toolchain, no opaque blob in the repository).
 */

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

const simd = (opcode: number): number[] => [0xfd, ...unsignedLeb(opcode)];
/** Alignment hint (log2 bytes) and constant offset of a memory access. */
const memarg = (alignLog2: number, offset: number): number[] => [alignLog2, ...unsignedLeb(offset)];

/** Instruction encoders; each returns its bytes. Locals are referenced by index. */
export const op = {
  get: (local: number) => [0x20, ...unsignedLeb(local)],
  set: (local: number) => [0x21, ...unsignedLeb(local)],
  tee: (local: number) => [0x22, ...unsignedLeb(local)],
  i32: (value: number) => [0x41, ...signedLeb(value)],
  add: [0x6a],
  and: [0x71],
  or: [0x72],
  eq: [0x46],
  ne: [0x47],
  ltS: [0x48],
  geU: [0x4f],
  select: [0x1b],
  if: [0x04, 0x40],
  else: [0x05],
  i32Load: (offset = 0) => [0x28, ...memarg(2, offset)],
  f64Load: (offset = 0) => [0x2b, ...memarg(3, offset)],
  f64: (value: number) => [0x44, ...new Uint8Array(Float64Array.of(value).buffer)],
  f64Add: [0xa0],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  f64Div: [0xa3],
  f64Sqrt: [0x9f],
  f64Eq: [0x61],
  f64Gt: [0x64],
  f64FromI32: [0xb7],
  sub: [0x6b],
  mul: [0x6c],
  shl: [0x74],
  shr: [0x76],
  ltU: [0x49],
  eqz: [0x45],
  /** `block`/`loop` without results; close with `end`. Branch depth 0 is the innermost. */
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...unsignedLeb(depth)],
  brIf: (depth: number) => [0x0d, ...unsignedLeb(depth)],
  f64Store: (offset = 0) => [0x39, ...memarg(3, offset)],
  v128Load: (offset = 0) => [...simd(0x00), ...memarg(3, offset)],
  v128Store: (offset = 0) => [...simd(0x0b), ...memarg(3, offset)],
  load64Splat: (offset = 0) => [...simd(0x0a), ...memarg(3, offset)],
  v128Zero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  f64x2ExtractLane: (lane: number) => [...simd(0x21), lane],
  f64x2Add: simd(0xf0),
  f64x2Mul: simd(0xf2),
};

export interface WasmFunction {
  name: string;
  params: number[];
  /** Extra locals after the parameters, by type. */
  locals: number[];
  body: number[][];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb(content.length), ...content];
}

function encodeString(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(bytes.length), ...bytes];
}

/** A module importing its memory as env.memory and exporting each function by name (no results). */
export function assembleModule(functions: WasmFunction[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(f.params.map((t) => [t])), 0]);
  const memoryImport = [...encodeString("env"), ...encodeString("memory"), 0x02, 0x00, 0x01];
  const exports = functions.map((f, index) => [...encodeString(f.name), 0x00, ...unsignedLeb(index)]);
  const bodies = functions.map((f) => {
    const locals = vector(f.locals.map((t) => [1, t]));
    const code = [...locals, ...f.body.flat(), 0x0b];
    return [...unsignedLeb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(functions.map((_, index) => unsignedLeb(index)))),
    ...section(7, vector(exports)),
    ...section(10, vector(bodies)),
  ]);
}
