// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw,
// "Parallel random numbers: as easy as 1, 2, 3", SC 2011), bit-compatible with
// Random123's philox4x32_10. A draw is a pure function of
// (seed, purpose, step, flat index), so every backend sees the same numbers
// and any draw can be recomputed without replaying a stream.
//
// Exact mapping (enough for another backend to reproduce every number):
//
//   key     = (seed >>> 0, purpose >>> 0)
//   counter = (b, step >>> 0, 0, kind)      one Philox block per counter
//     kind  = 0 for uniforms (fillUniform), 1 for normals (fillNormal)
//     b     = floor(k / 2), k = flat position in the output array
//             (k = index * dim + coord for a row-major N×dim array)
//   block output words (x0, x1, x2, x3):
//     uniform   u(hi, lo) = ((hi >>> 5) * 2^26 + (lo >>> 6)) * 2^-53  ∈ [0, 1)
//     fillUniform: out[2b] = u(x0, x1), out[2b + 1] = u(x2, x3)
//     fillNormal:  u1 = u(x0, x1), u2 = u(x2, x3), r = sqrt(-2 ln(1 - u1)),
//                  out[2b] = r cos(2π u2), out[2b + 1] = r sin(2π u2)
//
// Purposes name streams: purposeId("init:mu"), purposeId("noise"), ...;
// subPurpose derives independent streams from one (blocks, mixture parts).

const M0 = 0xd2511f53; // Philox multipliers
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9; // Weyl key increments (golden ratio, sqrt(3) - 1)
const W1 = 0xbb67ae85;

// 16-bit halves of the multipliers, for mulhi below.
const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;

/**
 * High 32 bits of the 64-bit product a * (bHi * 2^16 + bLo), a uint32.
 * Each 16×16-bit partial product is below 2^32, hence exact in a double;
 * `mid` gathers bits 16..31 of the three lower partial products (< 3 * 2^16)
 * and its carry goes into the high word.
 */
function mulhi(a: number, bLo: number, bHi: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aHi * bHi + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * Philox4x32-10: encrypt the counter (c0..c3) under the key (k0, k1) and
 * write the four output words to out[0..3]. All inputs are taken as uint32.
 */
export function philox4x32(
  k0: number,
  k1: number,
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let ka = k0 >>> 0;
  let kb = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(x0, M0_LO, M0_HI);
    const lo0 = Math.imul(x0, M0) >>> 0;
    const hi1 = mulhi(x2, M1_LO, M1_HI);
    const lo1 = Math.imul(x2, M1) >>> 0;
    x0 = (hi1 ^ x1 ^ ka) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ kb) >>> 0;
    x3 = lo0;
    ka = (ka + W0) >>> 0;
    kb = (kb + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvByte(h: number, byte: number): number {
  return Math.imul(h ^ byte, FNV_PRIME) >>> 0;
}

/** FNV-1a (32-bit) of the UTF-8 bytes of `name`: the id of a named stream. */
export function purposeId(name: string): number {
  let h = FNV_OFFSET;
  for (const byte of Buffer.from(name, 'utf8')) h = fnvByte(h, byte);
  return h;
}

/**
 * A stream derived from `purpose`: FNV-1a continued over the 4 little-endian
 * bytes of `index` (uint32). subPurpose(purposeId(s), i) is thus the FNV-1a
 * hash of utf8(s) followed by le32(i).
 */
export function subPurpose(purpose: number, index: number): number {
  let h = purpose >>> 0;
  const i = index >>> 0;
  h = fnvByte(h, i & 0xff);
  h = fnvByte(h, (i >>> 8) & 0xff);
  h = fnvByte(h, (i >>> 16) & 0xff);
  h = fnvByte(h, i >>> 24);
  return h;
}

const KIND_UNIFORM = 0;
const KIND_NORMAL = 1;
const TWO_POW_26 = 67108864;
const TWO_POW_M53 = 1.1102230246251565e-16; // 2^-53
const TWO_PI = 2 * Math.PI;

/** Reused output block: the fill functions allocate nothing per call. */
const block = new Uint32Array(4);

/** A uniform in [0, 1) with 53 random bits: 27 from `hi`, 26 from `lo`. */
function unit(hi: number, lo: number): number {
  return ((hi >>> 5) * TWO_POW_26 + (lo >>> 6)) * TWO_POW_M53;
}

/** out[k] ~ U[0, 1), independent, a function of (seed, purpose, step, k) only. */
export function fillUniform(out: Float64Array, seed: number, purpose: number, step: number): void {
  const k0 = seed >>> 0;
  const k1 = purpose >>> 0;
  const c1 = step >>> 0;
  const n = out.length;
  for (let k = 0; k < n; k += 2) {
    philox4x32(k0, k1, k >>> 1, c1, 0, KIND_UNIFORM, block);
    out[k] = unit(block[0], block[1]);
    if (k + 1 < n) out[k + 1] = unit(block[2], block[3]);
  }
}

/** out[k] ~ N(0, 1), independent, a function of (seed, purpose, step, k) only (Box–Muller). */
export function fillNormal(out: Float64Array, seed: number, purpose: number, step: number): void {
  const k0 = seed >>> 0;
  const k1 = purpose >>> 0;
  const c1 = step >>> 0;
  const n = out.length;
  for (let k = 0; k < n; k += 2) {
    philox4x32(k0, k1, k >>> 1, c1, 0, KIND_NORMAL, block);
    // 1 - u1 lies in (0, 1], so the logarithm is finite.
    const r = Math.sqrt(-2 * Math.log(1 - unit(block[0], block[1])));
    const theta = TWO_PI * unit(block[2], block[3]);
    out[k] = r * Math.cos(theta);
    if (k + 1 < n) out[k + 1] = r * Math.sin(theta);
  }
}
