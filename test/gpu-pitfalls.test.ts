// The gpu.js pitfalls of TOOLCHAIN.md, each with a check that fails without
// flowc's fix (docs/decisions.md, "The gpu backend"):
//   - a loop bound passed as an argument is cut at loopMaxIterations (1000):
//     reductions over 999, 1000, 1001, 4097 and 70000 points;
//   - constants are baked at a kernel's first call: the same compiled spec
//     (the same cached kernels) runs with other sizes;
//   - Mesa stops any shader loop at 65535 iterations: 70000 points on webgpu
//     need the chunked reduction;
//   - a kernel returns at most 4 numbers: d = 16 needs 32 sums per point;
//   - kernel maps fail on webgpu and fall back to cpu on webasm: none is used;
//   - Mesa simplifies plain Kahan summation away: the guarded one survives.
// Every mode under test must be available: a missing Dawn adapter fails here.

import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile, type Compiled } from '../src/compiler/compile.js';
import { CpuBackend, type Backend } from '../src/runtime/backend-cpu.js';
import { GpuBackend } from '../src/runtime/backend-gpu.js';
import { probeMode, type GpuMode } from '../src/runtime/gpu/modes.js';
import { loadMeasures, type MeasureData } from '../src/runtime/inputs.js';

const MODES: GpuMode[] = ['cpu', 'webasm', 'webgpu'];
/** float32 unit roundoff */
const U = 2 ** -24;
/** one evaluation (no time steps): 32 u, the per-evaluation bound of docs/decisions.md */
const TOL = 32 * U;

function compiled(source: string, overrides?: Record<string, number[]>): Compiled {
  const r = compile(source, { file: path.join(os.tmpdir(), 'gpu-pitfalls.flow'), overrides });
  if (!r.compiled) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.compiled;
}

/** The measures of a spec, the one named `resize` cut or grown (cycled) to `size` points. */
function measuresOf(c: Compiled, resize?: { name: string; size: number }): MeasureData[] {
  return loadMeasures(c.ir).measures.map((m) => {
    if (m.name !== resize?.name) return m;
    const data = new Float64Array(resize.size * m.dim).map((_, k) => m.data[k % m.data.length] + 1e-3 * Math.floor(k / m.data.length));
    return { ...m, size: resize.size, data };
  });
}

async function evaluate(c: Compiled, measures: MeasureData[], backend: (positions: Float64Array) => Promise<Backend> | Backend) {
  const particles = measures.find((m) => m.name === c.ir.particles)!;
  const positions = particles.data.slice();
  const b = await backend(positions);
  await b.setup();
  const v = new Float64Array(positions.length);
  await b.velocity(v);
  const obs = new Float64Array(c.observed.length);
  await b.observe(obs);
  await b.dispose?.();
  return { v, F: obs[0], describe: b.describe?.() };
}

const relErr = (a: Float64Array, b: Float64Array) => {
  let e = 0;
  let s = 0;
  b.forEach((x, k) => {
    e = Math.max(e, Math.abs(a[k] - x));
    s = Math.max(s, Math.abs(x));
  });
  return e / s;
};

/** gpu (mode) against the float64 cpu backend on the same compiled spec and measures. */
async function compare(c: Compiled, measures: MeasureData[], mode: GpuMode, chunk?: number) {
  const ref = await evaluate(c, measures, (x) => new CpuBackend(c, measures, x));
  const got = await evaluate(c, measures, (x) => GpuBackend.open(c, measures, x, mode, {}, chunk));
  return { v: relErr(got.v, ref.v), F: Math.abs(got.F - ref.F) / Math.abs(ref.F), describe: got.describe! };
}

const CROSS = `flow pitfall
let M = 1000
particles mu in R^2: 8 ~ normal(0, 1)
sample nu in R^2: M ~ normal(0.5, 1)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = E[x ~ mu, y ~ nu] k(x, y)
scheme euler(step = 0.1, steps = 1)
`;

beforeAll(async () => {
  for (const mode of MODES) {
    const p = await probeMode(mode);
    if (!p.available) throw new Error(`gpu mode ${mode} is not available here: ${p.detail}`);
  }
});

describe.each(MODES)('gpu:%s', (mode) => {
  it.each([999, 1000, 1001, 4097, 70000])('reduces over all %i points (loop bounds are literal, chunked)', async (M) => {
    const c = compiled(CROSS, { M: [M] });
    const e = await compare(c, measuresOf(c), mode);
    expect(e.v, `velocity, relative error against float64`).toBeLessThanOrEqual(TOL);
    expect(e.F, `energy, relative error against float64`).toBeLessThanOrEqual(TOL);
  });

  it('runs one compiled spec with other sizes on its cached kernels (no constant baked at the first call)', async () => {
    const c = compiled(CROSS);
    const first = await compare(c, measuresOf(c), mode);
    for (const size of [4097, 999, 70000, 1001]) {
      const e = await compare(c, measuresOf(c, { name: 'nu', size }), mode);
      expect(e.describe.kernels, 'the kernels were compiled by the first run').toEqual(
        (first.describe.kernels as object[]).map((k) => expect.objectContaining({ ...k, compile_ms: null, threads: expect.any(Number) })),
      );
      expect(e.v, `velocity with ${size} target points`).toBeLessThanOrEqual(TOL);
      expect(e.F, `energy with ${size} target points`).toBeLessThanOrEqual(TOL);
    }
  });

  it('computes the 32 sums per point of d = 16 with kernels of at most 4 outputs, and no kernel maps', async () => {
    const c = compiled(`flow d16
particles mu in R^16: 64 ~ normal(0, 1)
sample nu in R^16: 300 ~ normal(0.3, 1)
kernel k(x, y) = exp(-|x - y|^2 / 32)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 1)
`);
    const e = await compare(c, measuresOf(c), mode);
    const kernels = e.describe.kernels as { program: string; buffers: number[]; fell_back_to_cpu?: string }[];
    expect(kernels.filter((k) => k.program === 'velocity').flatMap((k) => k.buffers)).toHaveLength(32);
    for (const k of kernels) {
      expect(k.buffers.length).toBeLessThanOrEqual(4);
      // webasm falls back to its cpu kernel on a kernel map (and webgpu throws)
      expect(k.fell_back_to_cpu, 'a kernel fell back to gpu.js cpu').toBeUndefined();
    }
    expect(e.v).toBeLessThanOrEqual(TOL);
  });
});

describe('gpu:webgpu on Mesa', () => {
  it('stops no reduction at 65535 iterations: 70000 points in one chunk of 65535 and one of 4465', async () => {
    const c = compiled(CROSS, { M: [70000] });
    const e = await compare(c, measuresOf(c), 'webgpu', 65535);
    expect(e.v).toBeLessThanOrEqual(TOL);
  });

  it('keeps the compensated float32 sum: error at 65536 points in one chunk stays at the level of one term', async () => {
    // plain summation (or Kahan simplified away by Mesa) measured 5e-6 here
    const c = compiled(CROSS.replace('8 ~ normal(0, 1)', '64 ~ normal(0, 1)'), { M: [65536] });
    const e = await compare(c, measuresOf(c), 'webgpu', 65535);
    expect(e.v).toBeLessThanOrEqual(1e-6);
  });
});
