// Resident Euler steps on gpu:webgpu (backend-gpu.ts): the positions stay on
// the device between steps and come back only for records.
//   - the trajectory matches the host-step path of the same backend
//     (FLOWC_GPU_RESIDENT=0) and the float64 cpu backend, over chunked
//     reductions too (70000 target points: 5 chunks of 16384);
//   - records in between see the device positions (synced), not stale ones;
//   - run.json says whether steps were resident, and why not.

import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCompiled, type FlowRun } from '../src/api.js';
import { compile, type Compiled } from '../src/compiler/compile.js';
import { probeMode } from '../src/runtime/gpu/modes.js';
import { loadMeasures } from '../src/runtime/inputs.js';
import { tempDir } from './helpers.js';

/** float32 unit roundoff; after S steps a trajectory agrees within S · 32 u (docs/decisions.md) */
const U = 2 ** -24;

beforeAll(async () => {
  const p = await probeMode('webgpu');
  if (!p.available) throw new Error(`gpu mode webgpu is not available here: ${p.detail}`);
});

afterEach(() => {
  delete process.env.FLOWC_GPU_RESIDENT;
});

function compileText(source: string): Compiled {
  const dir = tempDir();
  const r = compile(source, { file: path.join(dir, 'spec.flow') });
  if (!r.compiled) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.compiled;
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let e = 0;
  let s = 0;
  for (let k = 0; k < b.length; k++) {
    e = Math.max(e, Math.abs(a[k] - b[k]));
    s = Math.max(s, Math.abs(b[k]));
  }
  return e / s;
};

const mmd = (N: number, M: number, steps: number, every: number) => `flow resident
seed 2
particles mu in R^2: ${N} ~ normal([0, 0], 1)
sample nu in R^2: ${M} ~ normal([1, 0.5], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = ${steps})
record every ${every}: F, m = E[x ~ mu] x[0], positions(mu)
`;

async function runOn(c: Compiled, backend: 'cpu' | 'webgpu', resident = true): Promise<FlowRun> {
  if (!resident) process.env.FLOWC_GPU_RESIDENT = '0';
  try {
    return await runCompiled(c, backend === 'cpu' ? { threads: 1 } : { gpu: 'webgpu' });
  } finally {
    delete process.env.FLOWC_GPU_RESIDENT;
  }
}

describe('resident Euler steps on gpu:webgpu', () => {
  it('follow the host-step path and the cpu backend, records included', async () => {
    const steps = 12;
    const c = compileText(mmd(300, 200, steps, 4));
    const [dev, host, cpu] = [await runOn(c, 'webgpu'), await runOn(c, 'webgpu', false), await runOn(c, 'cpu')];
    expect(dev.backend.resident).toBe(true);
    expect(host.backend.resident).toBe(false);
    expect(host.backend.resident_why_not).toBe('FLOWC_GPU_RESIDENT=0');
    const tol = steps * 32 * U;
    // every record (steps 0, 4, 8, 12) read the positions of its own step
    const snaps = (r: FlowRun) => r.result.snapshots[0].records;
    expect(snaps(dev).length).toBe(4);
    snaps(dev).forEach((x, k) => expect(relErr(x, snaps(cpu)[k]), `record ${k}`).toBeLessThanOrEqual(tol));
    for (const c of [2, 3]) expect(relErr(dev.result.trace.rows.map((r) => r[c]), cpu.result.trace.rows.map((r) => r[c]))).toBeLessThanOrEqual(tol);
    expect(relErr(dev.result.positions, host.result.positions)).toBeLessThanOrEqual(tol);
    // the positions moved: a test of a flow standing still would prove nothing
    expect(relErr(dev.result.positions, snaps(dev)[0])).toBeGreaterThan(1e-3);
  });

  it('add the chunk partial sums on the device (70000 target points: 5 chunks)', async () => {
    // attraction to the target only: no 70000 × 70000 term in the energy
    const c = compileText(mmd(64, 70000, 3, 3).replace('1/2 * mmd2(mu, nu; k)', '-E[x ~ mu, y ~ nu] k(x, y)'));
    const [dev, cpu] = [await runOn(c, 'webgpu'), await runOn(c, 'cpu')];
    expect(dev.backend.resident).toBe(true);
    expect(relErr(dev.result.positions, cpu.result.positions)).toBeLessThanOrEqual(3 * 32 * U);
  });

  it('run d = 16 (8 reduction kernels feed one update: more than the WebGPU default of 8 storage buffers)', async () => {
    const c = compileText(mmd(80, 60, 3, 3).replaceAll('R^2', 'R^16').replace('normal([0, 0], 1)', 'normal(0, 1)').replace('normal([1, 0.5], 0.5)', 'normal(0.5, 0.5)'));
    const [dev, cpu] = [await runOn(c, 'webgpu'), await runOn(c, 'cpu')];
    expect(dev.backend.resident).toBe(true);
    expect(relErr(dev.result.positions, cpu.result.positions)).toBeLessThanOrEqual(3 * 32 * U);
    expect(relErr(dev.result.positions, loadMeasures(c.ir).measures[0].data)).toBeGreaterThan(1e-4);
  });

  it('are not used where the host must act between steps, and run.json says why', async () => {
    const noisy = compileText(mmd(50, 50, 2, 1) + 'noise 0.1\n');
    const r = await runOn(noisy, 'webgpu');
    expect(r.backend.resident).toBe(false);
    expect(String(r.backend.resident_why_not)).toMatch(/without noise or diffusion/);
    // a two-layer network: the velocity needs a buffer over the data first (two stages)
    const net = compileText(`flow net
seed 1
particles mu in (w: R, theta: R^2): 20 ~ (w: normal(0, 0.1), theta: sphere(1))
sample data in R^2: 30 ~ normal([0, 0], 1)
fn phi(u, x) = u.w * relu(dot(u.theta, x))
energy F = 1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - x[0])^2
scheme euler(step = 0.1, steps = 2)
`);
    const rn = await runOn(net, 'webgpu');
    expect(rn.backend.resident).toBe(false);
    expect(String(rn.backend.resident_why_not)).toMatch(/not one stage of kernels/);
  });
});
