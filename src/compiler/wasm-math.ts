// The vector maths of the WebAssembly formatter (codegen-wasm.ts): the lane
// types of the two precisions, and exp, log, sin, cos, tanh, pow and sign as
// inline expansions (WAT lines over fresh locals, built from numbers only).
// They are expanded in place rather than called: a call with v128 operands
// cost V8 (Node 20) about as much as the whole exp, and an inlined body lets
// the unrolled copies of a reduction's inner loop overlap.
//
// exp: x = k ln2 + r, |r| <= ln2/2 (k by the 1.5·2^52 rounding trick, ln2 in
// two parts), exp(r) by a Chebyshev-fitted polynomial (degree 11 in float64,
// 6 in float32) evaluated by Estrin's scheme (short dependency chains), 2^k
// put in the exponent field; results below the smallest normal number are
// flushed to 0. log: fdlibm's reduction x = 2^k m, m in [√2/2, √2), and its
// polynomial in s = (m-1)/(m+1) (musl's log constants). sin/cos: k =
// round(x·2/π), Cody–Waite reduction with π/2 in three parts (accurate while
// |x| < 2^19·π/2), fdlibm's kernel polynomials on [-π/4, π/4], quadrant by
// selects. tanh: an odd Taylor polynomial below |x| < 0.1, else
// 1 - 2/(exp(2|x|) + 1) with the sign of x. pow(a, b) = exp(b log|a|) with
// the signs and special cases of Math.pow for finite arguments. Measured
// errors: docs/decisions.md, checked by test/wasm-ops.test.ts.
//
// In float32 the hot exp is a native f32x4 polynomial; log, sin, cos, tanh
// and pow are computed in float64 on the two halves of the vector and
// rounded back to float32.

export interface WasmReal {
  precision: 'float64' | 'float32';
  /** vector type of the lanes */
  v: 'f64x2' | 'f32x4';
  /** scalar type */
  s: 'f64' | 'f32';
  /** integer vector type of the same lane width */
  i: 'i64x2' | 'i32x4';
  lanes: 2 | 4;
  bytes: 8 | 4;
}

export const F64: WasmReal = { precision: 'float64', v: 'f64x2', s: 'f64', i: 'i64x2', lanes: 2, bytes: 8 };
export const F32: WasmReal = { precision: 'float32', v: 'f32x4', s: 'f32', i: 'i32x4', lanes: 4, bytes: 4 };

/** Where an expansion writes: lines go to `lines`, `fresh()` names a new v128 local. */
export interface WasmCtx {
  lines: string[];
  fresh(): string;
}

/** The helpers ops.ts's emissions may expand. */
export type WasmHelper = 'exp' | 'log' | 'sin' | 'cos' | 'tanh' | 'pow' | 'sign';

/** A number as a WAT float literal. */
export function watNumber(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

/** A constant vector with every lane x. */
export function splat(t: WasmReal, x: number): string {
  return `(v128.const ${t.v} ${Array(t.lanes).fill(watNumber(x)).join(' ')})`;
}

const int = (t: WasmReal, x: number | string) => `(v128.const ${t.i} ${Array(t.lanes).fill(String(x)).join(' ')})`;

/** Bind an expression to a fresh local (once), returning its read. */
function bind(c: WasmCtx, e: string): string {
  if (/^\(local\.get \$[\w]+\)$/.test(e) || e.startsWith('(v128.const ')) return e;
  const n = c.fresh();
  c.lines.push(`(local.set $${n} ${e})`);
  return `(local.get $${n})`;
}

/** Horner's scheme: c[0] + x (c[1] + x (c[2] + ...)). */
function horner(t: WasmReal, x: string, cs: number[]): string {
  let e = splat(t, cs[cs.length - 1]);
  for (let k = cs.length - 2; k >= 0; k--) e = `(${t.v}.add ${splat(t, cs[k])} (${t.v}.mul ${x} ${e}))`;
  return e;
}

/** Estrin's scheme for sum_k c[k] x^k: pairs, then pairs of pairs in x^2, x^4, ... */
function estrin(t: WasmReal, c: WasmCtx, x: string, cs: number[]): string {
  let terms = cs.map((k) => splat(t, k));
  let p = x;
  while (terms.length > 1) {
    const next: string[] = [];
    for (let k = 0; k < terms.length; k += 2) next.push(k + 1 < terms.length ? bind(c, `(${t.v}.add ${terms[k]} (${t.v}.mul ${p} ${terms[k + 1]}))`) : terms[k]);
    terms = next;
    if (terms.length > 1) p = bind(c, `(${t.v}.mul ${p} ${p})`);
  }
  return terms[0];
}

/**
 * Polynomials for exp(r) on [-ln2/2, ln2/2] (mpmath.chebyfit, degree 11 in
 * float64: max error 3.2e-18; degree 6 in float32: 2.0e-9), lowest degree first.
 */
const EXP_POLY: Record<WasmReal['precision'], number[]> = {
  float64: [1.0, 1.0, 0.5000000000000019, 0.1666666666666668, 0.0416666666664881, 0.008333333333319601, 0.0013888888952314775, 0.00019841269890047113, 2.4801485482328494e-05, 2.755724091857897e-06, 2.763263963904103e-07, 2.5110037605963777e-08],
  float32: [1.0, 1.000000037716214, 0.5000000047117757, 0.16666415514653277, 0.04166635289677516, 0.008375126398153335, 0.0013941108433972674],
};

/**
 * exp, with results below the smallest normal number (x < ln 2^-1022, or
 * ln 2^-126 in float32) flushed to 0: one exponent-field scaling instead of
 * two, for a quarter fewer instructions in the hot loop of a Gaussian kernel.
 */
function exp(t: WasmReal, [arg]: string[], c: WasmCtx): string {
  const f64 = t.precision === 'float64';
  const { v, i } = t;
  const C = (x: number) => splat(t, x);
  const magic = f64 ? 6755399441055744 : 12582912; // 1.5·2^52, 1.5·2^23
  const magicBits = f64 ? '0x4338000000000000' : '0x4B400000';
  const ln2hi = f64 ? 6.93147180369123816490e-1 : 0.693145751953125; // 0x3f317200
  const ln2lo = f64 ? 1.90821492927058770002e-10 : 1.428606765330187045e-6; // 0x35bfbe8e
  // below lo the result is under the smallest normal number; above hi it is +inf (k = 1024 or 128: an all-ones exponent)
  const [lo, hi] = f64 ? [-708.3964185322641, 710] : [-87.33654, 89];
  const bias = f64 ? 1023 : 127;
  const shift = f64 ? 52 : 23;
  const a = bind(c, arg);
  // pmax/pmin return their first operand when it is NaN: NaN stays NaN
  const x = bind(c, `(${v}.pmin (${v}.pmax ${a} ${C(lo)}) ${C(hi)})`);
  const tt = bind(c, `(${v}.add (${v}.mul ${x} ${C(Math.LOG2E)}) ${C(magic)})`);
  const k = bind(c, `(${v}.sub ${tt} ${C(magic)})`);
  const r = bind(c, `(${v}.sub (${v}.sub ${x} (${v}.mul ${k} ${C(ln2hi)})) (${v}.mul ${k} ${C(ln2lo)}))`);
  const p = estrin(t, c, r, EXP_POLY[t.precision]);
  const scale = `(${i}.shl (${i}.add (${i}.sub ${tt} ${int(t, magicBits)}) ${int(t, bias)}) (i32.const ${shift}))`;
  return bind(c, `(v128.andnot (${v}.mul ${p} ${scale}) (${v}.lt ${a} ${C(lo)}))`);
}

/** log in float64 (musl's log). */
function log64([arg]: string[], c: WasmCtx): string {
  const t = F64;
  const v = 'f64x2';
  const C = (x: number) => splat(t, x);
  const Lg = [6.666666666666735130e-1, 3.999999999940941908e-1, 2.857142874366239149e-1, 2.222219843214978396e-1, 1.818357216161805012e-1, 1.531383769920937332e-1, 1.479819860511658591e-1];
  const x = bind(c, arg);
  const sub = bind(c, `(${v}.lt ${x} ${C(2.2250738585072014e-308)})`);
  const y = bind(c, `(v128.bitselect (${v}.mul ${x} ${C(18014398509481984)}) ${x} ${sub})`);
  const h = bind(c, `(i64x2.add ${y} ${int(t, '0x00095f6200000000')})`);
  let k = bind(c, `(i64x2.sub (i64x2.shr_s ${h} (i32.const 52)) ${int(t, 1023)})`);
  k = bind(c, `(${v}.sub (${v}.sub (i64x2.add ${k} ${int(t, '0x4338000000000000')}) ${C(6755399441055744)}) (v128.and ${sub} ${C(54)}))`);
  const f = bind(c, `(${v}.sub (i64x2.add (v128.and ${h} ${int(t, '0x000fffffffffffff')}) ${int(t, '0x3fe6a09e00000000')}) ${C(1)})`);
  const hfsq = bind(c, `(${v}.mul ${C(0.5)} (${v}.mul ${f} ${f}))`);
  const s = bind(c, `(${v}.div ${f} (${v}.add ${C(2)} ${f}))`);
  const z = bind(c, `(${v}.mul ${s} ${s})`);
  const w = bind(c, `(${v}.mul ${z} ${z})`);
  const R = bind(c, `(${v}.add (${v}.mul ${z} ${horner(t, w, [Lg[0], Lg[2], Lg[4], Lg[6]])}) (${v}.mul ${w} ${horner(t, w, [Lg[1], Lg[3], Lg[5]])}))`);
  let out = bind(c, `(${v}.add (${v}.add (${v}.sub (${v}.add (${v}.mul ${s} (${v}.add ${hfsq} ${R})) (${v}.mul ${k} ${C(1.90821492927058770002e-10)})) ${hfsq}) ${f}) (${v}.mul ${k} ${C(6.93147180369123816490e-1)}))`);
  out = bind(c, `(v128.bitselect ${C(-Infinity)} ${out} (${v}.eq ${x} ${C(0)}))`);
  out = bind(c, `(v128.bitselect ${C(NaN)} ${out} (${v}.lt ${x} ${C(0)}))`);
  return bind(c, `(v128.bitselect ${x} ${out} (v128.or (${v}.ne ${x} ${x}) (${v}.eq ${x} ${C(Infinity)})))`);
}

/** sin(x + off·π/2) in float64, by quadrant: off = 0 is sin, 1 is cos. */
function sinq64([arg]: string[], c: WasmCtx, off: number): string {
  const t = F64;
  const v = 'f64x2';
  const C = (x: number) => splat(t, x);
  const S = [-1.66666666666666324348e-1, 8.33333333332248946124e-3, -1.98412698298579493134e-4, 2.75573137070700676789e-6, -2.50507602534068634195e-8, 1.58969099521155010221e-10];
  const Cc = [4.16666666666666019037e-2, -1.38888888888741095749e-3, 2.48015872894767294178e-5, -2.75573143513906633035e-7, 2.08757232129817482790e-9, -1.13596475577881948265e-11];
  const x = bind(c, arg);
  const tt = bind(c, `(${v}.add (${v}.mul ${x} ${C(2 / Math.PI)}) ${C(6755399441055744)})`);
  const k = bind(c, `(${v}.sub ${tt} ${C(6755399441055744)})`);
  const q = bind(c, `(i64x2.add (i64x2.sub ${tt} ${int(t, '0x4338000000000000')}) ${int(t, off)})`);
  const r = bind(c, `(${v}.sub (${v}.sub (${v}.sub ${x} (${v}.mul ${k} ${C(1.57079632673412561417)})) (${v}.mul ${k} ${C(6.07710050630396597660e-11)})) (${v}.mul ${k} ${C(2.02226624871116645580e-21)}))`);
  const z = bind(c, `(${v}.mul ${r} ${r})`);
  const s = bind(c, `(${v}.add ${r} (${v}.mul (${v}.mul ${r} ${z}) ${horner(t, z, S)}))`);
  const co = bind(c, `(${v}.add (${v}.sub ${C(1)} (${v}.mul ${C(0.5)} ${z})) (${v}.mul (${v}.mul ${z} ${z}) ${horner(t, z, Cc)}))`);
  const sel = bind(c, `(v128.bitselect ${co} ${s} (i64x2.eq (v128.and ${q} ${int(t, 1)}) ${int(t, 1)}))`);
  return bind(c, `(v128.xor ${sel} (i64x2.shl (v128.and ${q} ${int(t, 2)}) (i32.const 62)))`);
}

function tanh64([arg]: string[], c: WasmCtx): string {
  const t = F64;
  const v = 'f64x2';
  const C = (x: number) => splat(t, x);
  const odd = [-1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075];
  const x = bind(c, arg);
  const a = bind(c, `(${v}.abs ${x})`);
  const e = exp(F64, [`(${v}.mul ${C(2)} ${a})`], c);
  const big = bind(c, `(${v}.sub ${C(1)} (${v}.div ${C(2)} (${v}.add ${e} ${C(1)})))`);
  const signed = bind(c, `(v128.or (v128.and ${big} ${int(t, '0x7fffffffffffffff')}) (v128.and ${x} ${int(t, '0x8000000000000000')}))`);
  const z = bind(c, `(${v}.mul ${x} ${x})`);
  const p = bind(c, `(${v}.add ${x} (${v}.mul (${v}.mul ${x} ${z}) ${horner(t, z, odd)}))`);
  return bind(c, `(v128.bitselect ${p} ${signed} (${v}.lt ${a} ${C(0.1)}))`);
}

/** pow(a, b) in float64 = exp(b log|a|), with Math.pow's sign for negative a and integer b, NaN for other negative a, and a^0 = 1. */
function pow64([aArg, bArg]: string[], c: WasmCtx): string {
  const t = F64;
  const v = 'f64x2';
  const C = (x: number) => splat(t, x);
  const a = bind(c, aArg);
  const b = bind(c, bArg);
  let r = exp(F64, [`(${v}.mul ${b} ${log64([`(${v}.abs ${a})`], c)})`], c);
  const neg = bind(c, `(${v}.lt ${a} ${C(0)})`);
  const h = bind(c, `(${v}.mul ${b} ${C(0.5)})`);
  r = bind(c, `(v128.xor ${r} (v128.and (v128.and ${neg} (${v}.ne (${v}.floor ${h}) ${h})) ${C(-0)}))`);
  r = bind(c, `(v128.bitselect ${C(NaN)} ${r} (v128.and ${neg} (${v}.ne (${v}.floor ${b}) ${b})))`);
  return bind(c, `(v128.bitselect ${C(1)} ${r} (${v}.eq ${b} ${C(0)}))`);
}

function sign(t: WasmReal, [arg]: string[], c: WasmCtx): string {
  const v = t.v;
  const one = splat(t, 1);
  const zero = splat(t, 0);
  const x = bind(c, arg);
  return bind(c, `(v128.bitselect ${x} (${v}.sub (v128.and ${one} (${v}.gt ${x} ${zero})) (v128.and ${one} (${v}.lt ${x} ${zero}))) (${v}.ne ${x} ${x}))`);
}

/** A float64 expansion applied to the two halves of an f32x4 and rounded back to float32. */
function viaF64(f: (args: string[], c: WasmCtx) => string, args: string[], c: WasmCtx): string {
  const xs = args.map((a) => bind(c, a));
  const lo = f(xs.map((x) => `(f64x2.promote_low_f32x4 ${x})`), c);
  const hi = f(xs.map((x) => `(f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${x} ${x}))`), c);
  return bind(c, `(i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero ${lo}) (f32x4.demote_f64x2_zero ${hi}))`);
}

/** Expand helper `name` on operand expressions: its lines go to c.lines, the returned expression reads the result. */
export function expand(name: WasmHelper, t: WasmReal, args: string[], c: WasmCtx): string {
  const f64 = t.precision === 'float64';
  const in64 = (f: (args: string[], c: WasmCtx) => string) => (f64 ? f(args, c) : viaF64(f, args, c));
  switch (name) {
    case 'exp':
      return exp(t, args, c);
    case 'log':
      return in64(log64);
    case 'sin':
      return in64((a, cc) => sinq64(a, cc, 0));
    case 'cos':
      return in64((a, cc) => sinq64(a, cc, 1));
    case 'tanh':
      return in64(tanh64);
    case 'pow':
      return in64(pow64);
    case 'sign':
      return sign(t, args, c);
  }
}
