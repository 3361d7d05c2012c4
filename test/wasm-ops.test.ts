// Every op of the op table, in its WebAssembly SIMD form, against its
// `evaluate` (the JS reference) over wide input ranges, in float64 (f64x2)
// and float32 (f32x4): exact ops bit for bit, exp and log within their ulp
// bounds, the others within a relative tolerance (test/wasm-ulp.ts).

import { describe, expect, it } from 'vitest';
import { F32, F64, splat } from '../src/compiler/wasm-math.js';
import { OPS, type OpName } from '../src/compiler/ops.js';
import { evalWasm, ulpReport, ulps } from './wasm-ulp.js';

/** Bounds: [float64, float32] in ulp for the ops that are exact or polynomial within a few ulp; relative for the rest. */
const ULP: Partial<Record<OpName, [number, number]>> = {
  add: [0, 0], mul: [0, 0], div: [0, 0], neg: [0, 0], sqrt: [0, 0], abs: [0, 0], sign: [0, 0], floor: [0, 0],
  relu: [0, 0], heaviside: [0, 0], max: [0, 0], min: [0, 0], ge: [0, 0], divz: [0, 0],
  exp: [2, 2], log: [2, 1], sigmoid: [4, 3], norm: [1, 1],
};
/** Relative bounds of the rest: sin and cos near their zeros, tanh, pow = exp(b log a) (its error grows with |b log a|). */
const REL: Partial<Record<OpName, [number, number]>> = {
  sin: [1e-13, 3e-7], cos: [1e-13, 3e-7], tanh: [3e-15, 1.2e-7], pow: [1e-14, 1.2e-7],
};

describe('every op of the op table in WebAssembly SIMD', () => {
  for (const t of [F64, F32]) {
    for (const op of Object.keys(OPS) as OpName[]) {
      it(`${op} (${t.v}) matches its evaluate`, async () => {
        const { maxUlp, maxRel } = await ulpReport(op, t);
        const k = t === F64 ? 0 : 1;
        if (ULP[op]) expect(maxUlp, `${op} max ulp`).toBeLessThanOrEqual(ULP[op]![k]);
        else expect(maxRel, `${op} max relative error`).toBeLessThanOrEqual(REL[op]![k]);
      });
    }
  }

  it('every op has a bound here (adding an op means measuring its SIMD form)', () => {
    for (const op of Object.keys(OPS)) expect(ULP[op as OpName] ?? REL[op as OpName], op).toBeDefined();
  });

  it('exp and log keep their special values', async () => {
    const x = Float64Array.from([0, -0, Infinity, -Infinity, NaN, -1, 1e-310, 710, -746]);
    const e = await evalWasm('exp', F64, [x]);
    expect([...e]).toEqual([...x].map(Math.exp));
    const l = await evalWasm('log', F64, [x]);
    [...x].forEach((v, i) => expect(ulps(l[i], Math.log(v), F64), `log(${v})`).toBeLessThanOrEqual(1));
  });

  it('exp flushes results below the smallest normal number to 0, and only those', async () => {
    const x = Float64Array.from([-708.39, -708.4, -720, -745, -1e300]);
    const e = await evalWasm('exp', F64, [x]);
    expect(e[0]).toBeGreaterThan(0);
    expect([...e.slice(1)]).toEqual([0, 0, 0, 0]);
    const f = await evalWasm('exp', F32, [Float64Array.from([-87.3, -87.4, -100, -1e30])]);
    expect(f[0]).toBeGreaterThan(0);
    expect([...f.slice(1)]).toEqual([0, 0, 0]);
  });

  it('splat prints every lane', () => {
    expect(splat(F32, -0.5)).toBe('(v128.const f32x4 -0.5 -0.5 -0.5 -0.5)');
    expect(splat(F64, Infinity)).toBe('(v128.const f64x2 inf inf)');
  });
});
