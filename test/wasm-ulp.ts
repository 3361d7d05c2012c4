// Measuring the WebAssembly SIMD form of an op (ops.ts `wasm`, wasm-math.ts
// helpers) against its `evaluate` over wide input ranges: used by
// test/wasm-ops.test.ts and bench/wasm-ulp.ts (which prints the figures
// quoted in docs/decisions.md).

import { F32, F64, type WasmCtx, type WasmReal } from '../src/compiler/wasm-math.js';
import { OPS, type OpName } from '../src/compiler/ops.js';
import { assemble } from '../src/runtime/wasm-assemble.js';

/** Evaluate op on n points of input arrays, lane-parallel, through a module built for this op. */
export async function evalWasm(op: OpName, t: WasmReal, args: Float64Array[]): Promise<Float64Array> {
  const n = args[0].length;
  const arity = args.length;
  const bytes = t.bytes;
  const pad = Math.ceil(n / 4) * 4;
  const at = (k: number) => 64 + k * pad * bytes;
  const operands = args.map((_, k) => `(v128.load (i32.add (local.get $o) (i32.const ${at(k)})))`);
  let fresh = 0;
  const c: WasmCtx = { lines: [], fresh: () => `m${fresh++}` };
  const value = OPS[op].wasm(operands, t, c);
  const wat = `(module (import "env" "memory" (memory 1 65536 shared))
(func (export "f") (param $n i32) (local $o i32) ${Array.from({ length: fresh }, (_, k) => `(local $m${k} v128)`).join(' ')}
  (block $d (loop $l
    (br_if $d (i32.ge_s (local.get $o) (i32.mul (local.get $n) (i32.const ${bytes}))))
    ${c.lines.join('\n    ')}
    (v128.store (i32.add (local.get $o) (i32.const ${at(arity)})) ${value})
    (local.set $o (i32.add (local.get $o) (i32.const 16)))
    (br $l)))))`;
  const module = await assemble(wat);
  const pages = Math.ceil((at(arity + 1) + 64) / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const view = (k: number) => (bytes === 8 ? new Float64Array(memory.buffer, at(k), pad) : new Float32Array(memory.buffer, at(k), pad));
  args.forEach((a, k) => view(k).set(a));
  (inst.exports.f as (n: number) => void)(n);
  return Float64Array.from(view(arity).subarray(0, n));
}

/** A reproducible stream of uniforms (xorshift). */
function uniforms(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const N = 4001;
type Range = (u: () => number) => number;
const lin = (lo: number, hi: number): Range => (u) => lo + (hi - lo) * u();
const logu = (lo: number, hi: number): Range => (u) => Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * u());
const mix = (...rs: Range[]): Range => (u) => rs[Math.floor(u() * rs.length)](u);
const specials = [0, -0, 1, -1, 0.5, 2, -2, 3];

/** Input ranges per op (per argument). */
const RANGES: Record<OpName, Range[]> = {
  add: [lin(-1e3, 1e3), lin(-1e3, 1e3)],
  mul: [lin(-1e3, 1e3), lin(-1e3, 1e3)],
  div: [lin(-1e3, 1e3), mix(lin(-1e3, -1e-3), lin(1e-3, 1e3))],
  neg: [lin(-1e3, 1e3)],
  pow: [mix(logu(1e-3, 1e3), lin(-5, 5)), mix(lin(-3, 3), (u) => Math.round(lin(-4, 4)(u)))],
  // exp flushes results below the smallest normal number to 0 (wasm-math.ts): the inputs stay above ln 2^-1022 (ln 2^-126 in float32)
  exp: [mix(lin(-1, 1), lin(-80, 80), lin(-708, 709))],
  log: [mix(lin(0.5, 2), logu(1e-300, 1e300))],
  sqrt: [logu(1e-10, 1e10)],
  abs: [lin(-10, 10)],
  sign: [lin(-10, 10)],
  floor: [lin(-10, 10)],
  sin: [mix(lin(-4, 4), lin(-100, 100))],
  cos: [mix(lin(-4, 4), lin(-100, 100))],
  tanh: [mix(lin(-0.2, 0.2), lin(-20, 20))],
  sigmoid: [lin(-40, 40)],
  relu: [lin(-10, 10)],
  heaviside: [lin(-10, 10)],
  max: [lin(-10, 10), lin(-10, 10)],
  min: [lin(-10, 10), lin(-10, 10)],
  ge: [lin(-3, 3), lin(-3, 3)],
  norm: [lin(-10, 10), lin(-10, 10), lin(-10, 10)],
  divz: [lin(-10, 10), mix(lin(-10, 10), () => 0)],
};

function inputs(op: OpName, t: WasmReal): Float64Array[] {
  const u = uniforms(1234 + op.length);
  const ranges = op === 'exp' && t === F32 ? [mix(lin(-1, 1), lin(-20, 20), lin(-87, 88))] : RANGES[op];
  return ranges.map((r, k) => {
    const a = new Float64Array(N);
    for (let i = 0; i < N; i++) a[i] = i < specials.length && k === 0 && op !== 'log' && op !== 'sqrt' ? specials[i] : r(u);
    // the float32 kernels see float32 inputs: compare on the same inputs
    return t === F32 ? a.map(Math.fround) : a;
  });
}

/** Error of got against ref in units in the last place of ref (in the precision's format). */
export function ulps(got: number, ref: number, t: WasmReal): number {
  if (Object.is(got, ref) || got === ref) return 0;
  if (Number.isNaN(ref) && Number.isNaN(got)) return 0;
  if (!Number.isFinite(ref) || !Number.isFinite(got)) return Infinity;
  const mant = t === F64 ? 52 : 23;
  const minExp = t === F64 ? -1022 : -126;
  const e = Math.max(ref === 0 ? minExp : Math.floor(Math.log2(Math.abs(ref))), minExp);
  return Math.abs(got - ref) / 2 ** (e - mant);
}

export async function ulpReport(op: OpName, t: WasmReal): Promise<{ maxUlp: number; maxRel: number }> {
  const args = inputs(op, t);
  const got = await evalWasm(op, t, args);
  let maxUlp = 0;
  let maxRel = 0;
  for (let i = 0; i < N; i++) {
    const exact = OPS[op].evaluate(args.map((a) => a[i]));
    const ref = t === F32 ? Math.fround(exact) : exact;
    maxUlp = Math.max(maxUlp, ulps(got[i], ref, t));
    if (!(Number.isNaN(ref) && Number.isNaN(got[i])) && got[i] !== ref) maxRel = Math.max(maxRel, Math.abs(got[i] - ref) / Math.max(Math.abs(ref), 1e-300));
  }
  return { maxUlp, maxRel };
}

