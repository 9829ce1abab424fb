/**
 * Seeded pseudo-random numbers for the generated weights.
 *
 * xoshiro128** seeded through splitmix32: 32-bit integer arithmetic only, so it is fast enough for
 * the full-size (~250M parameter) preset and gives the same bytes on every platform.
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

/** xoshiro128** state for one (seed, label) stream, seeded through splitmix32. */
function seedState(seed: number, label: string): [number, number, number, number] {
  const mix = splitmix32((seed >>> 0) ^ hashLabel(label));
  const state: [number, number, number, number] = [mix() | 0, mix() | 0, mix() | 0, mix() | 0];
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[3] = 1;
  return state;
}

const SQRT3 = Math.sqrt(3);

/**
 * Values uniform around `mean` with standard deviation `std` (a uniform distribution has bounded
 * values, so activations stay finite through many random layers).
 */
export function uniformTensor(seed: number, label: string, size: number, std: number, mean = 0): Float32Array {
  const out = new Float32Array(size);
  const halfWidth = std * SQRT3;
  const width = 2 * halfWidth;
  const low = mean - halfWidth;
  // xoshiro128** on int32 locals (V8 keeps them as small integers; this loop fills ~250M values for
  // the full-size preset). Each value takes the top 24 bits, exactly representable in float32.
  let [a, b, c, d] = seedState(seed, label);
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
