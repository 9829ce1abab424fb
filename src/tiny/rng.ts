/**
 * Seeded pseudo-random numbers for the generated weights.
 *
 * xoshiro128** seeded through splitmix32: fast in 32-bit integer arithmetic, so a full-size
 * (~250M parameter) model fills in about a second, and fully deterministic across platforms.
 * Every tensor draws from its own stream derived from (seed, tensor name), so a tensor's values do
 * not depend on the order in which tensors are generated, and the quantized variants see the same
 * float weights as the fp32 files.
 */

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the UTF-16 code units of a label; enough to separate tensor streams. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, label = "") {
    const mix = splitmix32((seed >>> 0) ^ hashLabel(label));
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  state(): { a: number; b: number; c: number; d: number } {
    return { a: this.a, b: this.b, c: this.c, d: this.d };
  }

  /** Uniform in [0, 1) with 24 bits, exactly representable in float32. */
  nextUnit(): number {
    return (this.nextUint32() >>> 8) * 5.960464477539063e-8;
  }
}

/** Rotate left; stays int32 (no `>>> 0`) so V8 keeps the state in small integers, not doubles. */
function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const SQRT3 = Math.sqrt(3);

/**
 * Values uniform around `mean` with standard deviation `std` (a uniform distribution has bounded
 * values, so activations stay finite through many random layers).
 */
export function uniformTensor(seed: number, label: string, size: number, std: number, mean = 0): Float32Array {
  const rng = new Rng(seed, label);
  const out = new Float32Array(size);
  const halfWidth = std * SQRT3;
  const width = 2 * halfWidth;
  const low = mean - halfWidth;
  // Same sequence as rng.nextUnit(), inlined with local state: this loop fills ~250M values for the
  // full-size preset.
  let { a, b, c, d } = rng.state();
  a |= 0;
  b |= 0;
  c |= 0;
  d |= 0;
  for (let i = 0; i < size; i++) {
    const m = Math.imul(b, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    out[i] = low + (result >>> 8) * 5.960464477539063e-8 * width;
  }
  return out;
}
