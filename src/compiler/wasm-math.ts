// The vector maths of the WebAssembly formatter (codegen-wasm.ts): the lane
// types of the two precisions, and the helper functions that ops.ts's `wasm`
// emissions call ($exp, $log, $sin, $cos, $tanh, $pow, $sign), as WAT text
// built from numbers only.
//
// exp: x = k ln2 + r, |r| <= ln2/2 (k by the 1.5·2^52 rounding trick, ln2 in
// two parts), exp(r) by its Taylor polynomial (degree 13 in float64, 7 in
// float32), 2^k applied as two exponent-field scalings so that subnormal
// results come out right. log: fdlibm's reduction x = 2^k m,
// m in [√2/2, √2), and its polynomial in s = (m-1)/(m+1) (musl's log and
// logf constants). sin/cos: k = round(x·2/π), Cody–Waite reduction with π/2
// in three parts (accurate while |x| < 2^19·π/2), fdlibm's kernel
// polynomials on [-π/4, π/4], quadrant by selects. tanh: an odd Taylor
// polynomial below |x| < 0.1, else 1 - 2/(exp(2|x|) + 1) with the sign of x.
// pow(a, b) = exp(b log|a|) with the signs and special cases of Math.pow for
// finite arguments. The measured errors are in docs/decisions.md and are
// checked by test/wasm-ops.test.ts.
//
// In float32 the hot exp is a native f32x4 polynomial; log, sin, cos, tanh
// and pow are computed in float64 on the two halves of the vector and
// rounded back to float32 (correct to within an ulp of float32).

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

const int = (t: WasmReal, x: number | bigint | string) => `(v128.const ${t.i} ${Array(t.lanes).fill(String(x)).join(' ')})`;
const get = (name: string) => `(local.get $${name})`;
const set = (name: string, e: string) => `(local.set $${name} ${e})`;

/** Horner's scheme: c[0] + x (c[1] + x (c[2] + ...)). */
function horner(t: WasmReal, x: string, c: number[]): string {
  let e = splat(t, c[c.length - 1]);
  for (let k = c.length - 2; k >= 0; k--) e = `(${t.v}.add ${splat(t, c[k])} (${t.v}.mul ${x} ${e}))`;
  return e;
}

const factorials = (n: number) => Array.from({ length: n + 1 }, (_, k) => 1 / Array.from({ length: k }, (_, j) => j + 1).reduce((a, b) => a * b, 1));

/** exp in the native lane type. */
function expFn(t: WasmReal, name: string): string {
  const f64 = t.precision === 'float64';
  const v = t.v;
  const magic = f64 ? 6755399441055744 : 12582912; // 1.5·2^52, 1.5·2^23
  const magicBits = f64 ? '0x4338000000000000' : '0x4B400000';
  const ln2hi = f64 ? 6.93147180369123816490e-1 : 0.693145751953125; // 0x3f317200
  const ln2lo = f64 ? 1.90821492927058770002e-10 : 1.428606765330187045e-6; // 0x35bfbe8e
  const [lo, hi] = f64 ? [-746, 710] : [-104, 89];
  const bias = f64 ? 1023 : 127;
  const shift = f64 ? 52 : 23;
  const c = factorials(f64 ? 13 : 7);
  return `(func $${name} (param $x v128) (result v128) (local $t v128) (local $k v128) (local $r v128) (local $p v128) (local $h v128)
  ${set('x', `(${v}.min (${v}.max ${get('x')} ${splat(t, lo)}) ${splat(t, hi)})`)}
  ${set('t', `(${v}.add (${v}.mul ${get('x')} ${splat(t, Math.LOG2E)}) ${splat(t, magic)})`)}
  ${set('k', `(${v}.sub ${get('t')} ${splat(t, magic)})`)}
  ${set('r', `(${v}.sub (${v}.sub ${get('x')} (${v}.mul ${get('k')} ${splat(t, ln2hi)})) (${v}.mul ${get('k')} ${splat(t, ln2lo)}))`)}
  ${set('p', horner(t, get('r'), c))}
  ${set('t', `(${t.i}.sub ${get('t')} ${int(t, magicBits)})`)}
  ${set('h', `(${t.i}.shr_s ${get('t')} (i32.const 1))`)}
  ${set('t', `(${t.i}.sub ${get('t')} ${get('h')})`)}
  (${v}.mul (${v}.mul ${get('p')} (${t.i}.shl (${t.i}.add ${get('h')} ${int(t, bias)}) (i32.const ${shift}))) (${t.i}.shl (${t.i}.add ${get('t')} ${int(t, bias)}) (i32.const ${shift}))))`;
}

/** log in float64 (musl's log). */
function log64(name: string, exp: string): string {
  void exp;
  const t = F64;
  const v = 'f64x2';
  const Lg = [6.666666666666735130e-1, 3.999999999940941908e-1, 2.857142874366239149e-1, 2.222219843214978396e-1, 1.818357216161805012e-1, 1.531383769920937332e-1, 1.479819860511658591e-1];
  const C = (x: number) => splat(t, x);
  return `(func $${name} (param $x v128) (result v128) (local $sub v128) (local $y v128) (local $h v128) (local $k v128) (local $f v128) (local $s v128) (local $z v128) (local $w v128) (local $R v128) (local $hfsq v128)
  ${set('sub', `(${v}.lt ${get('x')} ${C(2.2250738585072014e-308)})`)}
  ${set('y', `(v128.bitselect (${v}.mul ${get('x')} ${C(18014398509481984)}) ${get('x')} ${get('sub')})`)}
  ${set('h', `(i64x2.add ${get('y')} ${int(t, '0x00095f6200000000')})`)}
  ${set('k', `(i64x2.sub (i64x2.shr_s ${get('h')} (i32.const 52)) ${int(t, 1023)})`)}
  ${set('k', `(${v}.sub (i64x2.add ${get('k')} ${int(t, '0x4338000000000000')}) ${C(6755399441055744)})`)}
  ${set('k', `(${v}.sub ${get('k')} (v128.and ${get('sub')} ${C(54)}))`)}
  ${set('f', `(${v}.sub (i64x2.add (v128.and ${get('h')} ${int(t, '0x000fffffffffffff')}) ${int(t, '0x3fe6a09e00000000')}) ${C(1)})`)}
  ${set('hfsq', `(${v}.mul ${C(0.5)} (${v}.mul ${get('f')} ${get('f')}))`)}
  ${set('s', `(${v}.div ${get('f')} (${v}.add ${C(2)} ${get('f')}))`)}
  ${set('z', `(${v}.mul ${get('s')} ${get('s')})`)}
  ${set('w', `(${v}.mul ${get('z')} ${get('z')})`)}
  ${set('R', `(${v}.add (${v}.mul ${get('z')} ${horner(t, get('w'), [Lg[0], Lg[2], Lg[4], Lg[6]])}) (${v}.mul ${get('w')} ${horner(t, get('w'), [Lg[1], Lg[3], Lg[5]])}))`)}
  ${set('R', `(${v}.add (${v}.add (${v}.sub (${v}.add (${v}.mul ${get('s')} (${v}.add ${get('hfsq')} ${get('R')})) (${v}.mul ${get('k')} ${C(1.90821492927058770002e-10)})) ${get('hfsq')}) ${get('f')}) (${v}.mul ${get('k')} ${C(6.93147180369123816490e-1)}))`)}
  ${set('R', `(v128.bitselect ${C(-Infinity)} ${get('R')} (${v}.eq ${get('x')} ${C(0)}))`)}
  ${set('R', `(v128.bitselect ${C(NaN)} ${get('R')} (${v}.lt ${get('x')} ${C(0)}))`)}
  (v128.bitselect ${get('x')} ${get('R')} (v128.or (${v}.ne ${get('x')} ${get('x')}) (${v}.eq ${get('x')} ${C(Infinity)}))))`;
}

/** sin (off = 0) or cos (off = 1) in float64: sin(x + off·π/2) by quadrant. */
function sinq64(name: string): string {
  const t = F64;
  const v = 'f64x2';
  const C = (x: number) => splat(t, x);
  const S = [-1.66666666666666324348e-1, 8.33333333332248946124e-3, -1.98412698298579493134e-4, 2.75573137070700676789e-6, -2.50507602534068634195e-8, 1.58969099521155010221e-10];
  const Cc = [4.16666666666666019037e-2, -1.38888888888741095749e-3, 2.48015872894767294178e-5, -2.75573143513906633035e-7, 2.08757232129817482790e-9, -1.13596475577881948265e-11];
  return `(func $${name} (param $x v128) (param $off i32) (result v128) (local $t v128) (local $k v128) (local $r v128) (local $z v128) (local $s v128) (local $c v128) (local $q v128)
  ${set('t', `(${v}.add (${v}.mul ${get('x')} ${C(2 / Math.PI)}) ${C(6755399441055744)})`)}
  ${set('k', `(${v}.sub ${get('t')} ${C(6755399441055744)})`)}
  ${set('q', `(i64x2.add (i64x2.sub ${get('t')} ${int(t, '0x4338000000000000')}) (i64x2.splat (i64.extend_i32_s ${get('off')})))`)}
  ${set('r', `(${v}.sub (${v}.sub (${v}.sub ${get('x')} (${v}.mul ${get('k')} ${C(1.57079632673412561417)})) (${v}.mul ${get('k')} ${C(6.07710050630396597660e-11)})) (${v}.mul ${get('k')} ${C(2.02226624871116645580e-21)}))`)}
  ${set('z', `(${v}.mul ${get('r')} ${get('r')})`)}
  ${set('s', `(${v}.add ${get('r')} (${v}.mul (${v}.mul ${get('r')} ${get('z')}) ${horner(t, get('z'), S)}))`)}
  ${set('c', `(${v}.add (${v}.sub ${C(1)} (${v}.mul ${C(0.5)} ${get('z')})) (${v}.mul (${v}.mul ${get('z')} ${get('z')}) ${horner(t, get('z'), Cc)}))`)}
  ${set('s', `(v128.bitselect ${get('c')} ${get('s')} (i64x2.eq (v128.and ${get('q')} ${int(t, 1)}) ${int(t, 1)}))`)}
  (v128.xor ${get('s')} (i64x2.shl (v128.and ${get('q')} ${int(t, 2)}) (i32.const 62))))`;
}

/** tanh in float64. */
function tanh64(name: string, exp: string): string {
  const t = F64;
  const v = 'f64x2';
  const C = (x: number) => splat(t, x);
  const odd = [-1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075];
  return `(func $${name} (param $x v128) (result v128) (local $a v128) (local $e v128) (local $z v128) (local $p v128)
  ${set('a', `(${v}.abs ${get('x')})`)}
  ${set('e', `(call $${exp} (${v}.mul ${C(2)} ${get('a')}))`)}
  ${set('e', `(${v}.sub ${C(1)} (${v}.div ${C(2)} (${v}.add ${get('e')} ${C(1)})))`)}
  ${set('e', `(v128.or (v128.and ${get('e')} ${int(t, '0x7fffffffffffffff')}) (v128.and ${get('x')} ${int(t, '0x8000000000000000')}))`)}
  ${set('z', `(${v}.mul ${get('x')} ${get('x')})`)}
  ${set('p', `(${v}.add ${get('x')} (${v}.mul (${v}.mul ${get('x')} ${get('z')}) ${horner(t, get('z'), odd)}))`)}
  (v128.bitselect ${get('p')} ${get('e')} (${v}.lt ${get('a')} ${C(0.1)})))`;
}

/** pow(a, b) in float64 = exp(b log|a|), Math.pow's signs for negative a. */
function pow64(name: string, exp: string, log: string): string {
  const t = F64;
  const v = 'f64x2';
  const C = (x: number) => splat(t, x);
  return `(func $${name} (param $a v128) (param $b v128) (result v128) (local $r v128) (local $h v128) (local $neg v128)
  ${set('r', `(call $${exp} (${v}.mul ${get('b')} (call $${log} (${v}.abs ${get('a')}))))`)}
  ${set('neg', `(${v}.lt ${get('a')} ${C(0)})`)}
  ${set('h', `(${v}.mul ${get('b')} ${C(0.5)})`)}
  ${set('r', `(v128.xor ${get('r')} (v128.and (v128.and ${get('neg')} (${v}.ne (${v}.floor ${get('h')}) ${get('h')})) ${C(-0)}))`)}
  ${set('r', `(v128.bitselect ${C(NaN)} ${get('r')} (v128.and ${get('neg')} (${v}.ne (${v}.floor ${get('b')}) ${get('b')})))`)}
  (v128.bitselect ${C(1)} ${get('r')} (${v}.eq ${get('b')} ${C(0)})))`;
}

function signFn(t: WasmReal): string {
  const v = t.v;
  const one = splat(t, 1);
  const zero = splat(t, 0);
  return `(func $sign (param $x v128) (result v128)
  (v128.bitselect ${get('x')} (${v}.sub (v128.and ${one} (${v}.gt ${get('x')} ${zero})) (v128.and ${one} (${v}.lt ${get('x')} ${zero}))) (${v}.ne ${get('x')} ${get('x')})))`;
}

/** float32 wrappers: the float64 helper on each half of an f32x4, rounded back. */
function viaF64(name: string, call: (x: string, y?: string) => string, binary = false): string {
  const lo = (x: string) => `(f64x2.promote_low_f32x4 ${x})`;
  const hi = (x: string) => `(f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${x} ${x}))`;
  const a = get('x');
  const b = get('y');
  const L = binary ? call(lo(a), lo(b)) : call(lo(a));
  const H = binary ? call(hi(a), hi(b)) : call(hi(a));
  return `(func $${name} (param $x v128)${binary ? ' (param $y v128)' : ''} (result v128)
  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero ${L}) (f32x4.demote_f64x2_zero ${H})))`;
}

/** The helper functions every module of this precision carries. */
export function mathHelpers(t: WasmReal): string {
  const f64 = [expFn(F64, t.precision === 'float64' ? 'exp' : 'exp64'), log64('log64', 'exp64'), sinq64('sinq64'), tanh64('tanh64', t.precision === 'float64' ? 'exp' : 'exp64'), pow64('pow64', t.precision === 'float64' ? 'exp' : 'exp64', 'log64')];
  if (t.precision === 'float64')
    return [
      ...f64,
      `(func $log (param $x v128) (result v128) (call $log64 (local.get $x)))`,
      `(func $sin (param $x v128) (result v128) (call $sinq64 (local.get $x) (i32.const 0)))`,
      `(func $cos (param $x v128) (result v128) (call $sinq64 (local.get $x) (i32.const 1)))`,
      `(func $tanh (param $x v128) (result v128) (call $tanh64 (local.get $x)))`,
      `(func $pow (param $x v128) (param $y v128) (result v128) (call $pow64 (local.get $x) (local.get $y)))`,
      signFn(t),
    ].join('\n');
  return [
    ...f64,
    expFn(F32, 'exp'),
    viaF64('log', (x) => `(call $log64 ${x})`),
    viaF64('sin', (x) => `(call $sinq64 ${x} (i32.const 0))`),
    viaF64('cos', (x) => `(call $sinq64 ${x} (i32.const 1))`),
    viaF64('tanh', (x) => `(call $tanh64 ${x})`),
    viaF64('pow', (x, y) => `(call $pow64 ${x} ${y})`, true),
    signFn(t),
  ].join('\n');
}
