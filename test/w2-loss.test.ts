// W2² as a loss (LANGUAGE.md, "Record items"; runtime/transport-loss.ts):
// the gradient the host adds against finite differences of the exact W2²
// (equal-size uniform clouds: a small perturbation keeps the optimal
// assignment), one Euler step of size 1 of w2(mu, nu)^2 / 2 lands on nu, a
// model fitted by W2² through the parametric machinery, and Sinkhorn's
// barycentric map where the clouds differ in size.

import { describe, expect, it } from 'vitest';
import { runCompiled } from '../src/api.js';
import { compile as compileSource, type Compiled } from '../src/compiler/compile.js';
import { CpuBackend, type Backend } from '../src/runtime/backend-cpu.js';
import { loadMeasures, type MeasureData } from '../src/runtime/inputs.js';
import { StateStepper } from '../src/runtime/state-flow.js';
import { transportLosses } from '../src/runtime/transport-loss.js';
import { barycentricMaps, exactPlan, sinkhornW2 } from '../src/runtime/transport.js';
import { irText } from '../src/compiler/emit.js';
import { compileSummary } from '../src/cli/compile-summary.js';

interface Opened {
  compiled: Compiled;
  measures: MeasureData[];
  backend: Backend;
  positions: Float64Array;
  stepper?: StateStepper;
  energy(): Promise<number>;
}

/** Compile and run a spec's text (the API's runCompiled): the trace, snapshots and measures. */
async function run(source: string, opts: { file: string; steps?: number }) {
  const r = compileSource(source, { file: opts.file, ...(opts.steps ? { steps: opts.steps } : {}) });
  if (!r.compiled) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return runCompiled(r.compiled, { threads: 1 });
}

async function open(source: string): Promise<Opened> {
  const r = compileSource(source, { file: 'w2-loss.flow' });
  if (!r.compiled) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  const compiled = r.compiled;
  const { measures } = loadMeasures(compiled.ir);
  const particles = measures.find((m) => m.name === compiled.ir.particles);
  const positions = particles ? particles.data.slice() : new Float64Array(0);
  const cpu = new CpuBackend(compiled, measures, positions);
  cpu.setup();
  const backend = transportLosses(compiled, measures, cpu)!.backend;
  const stepper = compiled.ir.states.length ? new StateStepper(compiled, backend) : undefined;
  await stepper?.refresh();
  const energy = async () => {
    await stepper?.refresh();
    const out = new Float64Array(compiled.observed.length);
    await backend.observe(out);
    return out[0];
  };
  return { compiled, measures, backend, positions, stepper, energy };
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den);
}

describe('W2² as a loss on particles', () => {
  const spec = `flow w2_particles
seed 5
let lambda = 0.7
particles mu in R^2: 12 ~ normal([0, 0], 1)
sample nu in R^2: 12 ~ normal([2, -1], 0.5)
energy F = lambda * w2(mu, nu)^2 / 2 + E[x ~ mu] |x|^2 / 4
metric W2
scheme euler(step = 0.1, steps = 1)
`;

  it('the velocity is -N times the finite differences of the energy with the exact W2²', async () => {
    const f = await open(spec);
    const N = 12;
    const v = new Float64Array(N * 2);
    await f.backend.run('velocity', v);
    const fd = new Float64Array(N * 2);
    for (let k = 0; k < fd.length; k++) {
      const x = f.positions[k];
      const h = 1e-6;
      f.positions[k] = x + h;
      const up = await f.energy();
      f.positions[k] = x - h;
      const down = await f.energy();
      f.positions[k] = x;
      fd[k] = (-N * (up - down)) / (2 * h);
    }
    expect(relativeError(v, fd)).toBeLessThan(1e-7);
    // the W2² term is part of F: against the exact solver
    const mu = { points: f.positions, n: N, d: 2 };
    const nu = { points: f.measures.find((m) => m.name === 'nu')!.data, n: N, d: 2 };
    let second = 0;
    for (let k = 0; k < f.positions.length; k++) second += f.positions[k] ** 2 / (4 * N);
    expect(await f.energy()).toBeCloseTo((0.7 * exactPlan(mu, nu).value2) / 2 + second, 12);
  });

  it('one Euler step of size 1 of w2(mu, nu)^2 / 2 moves each particle onto its match in nu', async () => {
    const source = `flow onto
seed 2
particles mu in R^3: 40 ~ normal([0, 0, 0], 1)
sample nu in R^3: 40 ~ uniform([2, 2, 2], [3, 4, 5])
energy F = w2(mu, nu)^2 / 2
metric W2
scheme euler(step = 1, steps = 1)
record every 1: F, w2(mu, nu), positions(mu)
`;
    const r = await run(source, { file: 'onto.flow' });
    expect(r.result.status).toBe('ok');
    const before = r.result.snapshots[0].records[0];
    const after = r.result.snapshots[0].records[1];
    const nu = r.measures.find((m) => m.name === 'nu')!.data;
    const { perm, value2 } = exactPlan({ points: before, n: 40, d: 3 }, { points: nu, n: 40, d: 3 });
    for (let i = 0; i < 40; i++) for (let k = 0; k < 3; k++) expect(after[i * 3 + k]).toBeCloseTo(nu[perm![i] * 3 + k], 12);
    const rows = r.result.trace.rows;
    expect(rows[0][2]).toBeCloseTo(value2 / 2, 12);
    expect(Math.abs(rows[1][2])).toBeLessThan(1e-20);
    expect(Math.abs(rows[1][3])).toBeLessThan(1e-9);
    expect(r.result.transport?.['w2(mu, nu)^2 in F']).toEqual({ method: 'exact' });
  });
});

describe('W2² as a loss on a model (parametric flows)', () => {
  it('∇_theta is the finite differences of the energy with the exact W2², through a nonlinear generator and a second term', async () => {
    const f = await open(`flow w2_model
seed 4
state theta in R^3 = [0.3, -0.2, 1.4]
sample z in R^2: 15 ~ normal([0, 0], 1)
sample p in R^2: 15 ~ normal([1, -1], [1.5, 0.7])
model q = push(z, s => [theta[0] + theta[2] * s[0], tanh(theta[1] + s[1]) * theta[2]])
energy F = 2 * w2(q, p)^2 + 0.3 * |theta|^2 + E[x ~ q] x[0]^2
metric euclid
scheme euler(step = 0.1, steps = 1)
`);
    const stepper = f.stepper!;
    const g = new Float64Array(3);
    await f.backend.run('gradient', g);
    const theta = stepper.vectors[0].data;
    const fd = new Float64Array(3);
    for (let c = 0; c < 3; c++) {
      const x = theta[c];
      const h = 1e-6;
      theta[c] = x + h;
      const up = await f.energy();
      theta[c] = x - h;
      const down = await f.energy();
      theta[c] = x;
      fd[c] = (up - down) / (2 * h);
    }
    expect(relativeError(g, fd)).toBeLessThan(1e-6);
  });

  it('the W2natural fit reaches the sampling floor of W2² in a few steps where euclid crawls (specs/w2loss-*.flow)', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const finalF = async (name: string, steps: number) => {
      const file = path.join(import.meta.dirname, '..', 'specs', name);
      const r = await run(fs.readFileSync(file, 'utf8'), { file, steps });
      const rows = r.result.trace.rows;
      return rows[rows.length - 1][2];
    };
    const natural = await finalF('w2loss-W2natural.flow', 20);
    const euclid = await finalF('w2loss-euclid.flow', 20);
    expect(natural).toBeLessThan(0.1);
    expect(euclid).toBeGreaterThan(natural * 2);
  });
});

describe('the printed IR', () => {
  it('shows the term as a parameter of the energy and says where its gradient goes (--emit ir-text, the compile summary)', () => {
    const r = compileSource(
      `flow printed
seed 1
particles mu in R: 5 ~ normal(0, 1)
sample nu in R: 5 ~ normal(1, 1)
energy F = 3 * w2(mu, nu)^2
scheme euler(step = 0.1, steps = 1)
`,
      { file: 'printed.flow' },
    );
    const text = irText(r.compiled!);
    expect(text).toContain('energy F = (3 * %w2(mu, nu))');
    expect(text).toContain('%w2(mu, nu) = w2(mu, nu)^2, computed on the host each step');
    expect(text).toContain('subtracted from the velocity on the host');
    expect(compileSummary(r.compiled!, {})).toContain('  w2 loss    w2(mu, nu)^2: an optimal assignment on the host');
  });
});

describe("Sinkhorn's barycentric map", () => {
  it('between clouds of different sizes the particles move toward the barycentric map, and the loss falls', async () => {
    const r = await run(
      `flow sinkhorn_loss
seed 7
particles mu in R^2: 30 ~ normal([0, 0], 1)
sample nu in R^2: 45 ~ normal([3, 0], 0.5)
energy F = w2(mu, nu)^2 / 2
metric W2
scheme euler(step = 0.5, steps = 10)
record every 5: F
`,
      { file: 'sinkhorn.flow' },
    );
    expect(r.result.status).toBe('ok');
    const how = r.result.transport?.['w2(mu, nu)^2 in F'];
    expect(how?.method).toBe('sinkhorn');
    const F = r.result.trace.rows.map((row) => row[2]);
    expect(F[2]).toBeLessThan(F[0] / 100);
  });

  it('with a small eps between equal uniform clouds, it is the exact matching', () => {
    const n = 20;
    const a = { points: Float64Array.from({ length: 2 * n }, (_, k) => Math.sin(7 * k + 1)), n, d: 2 };
    const b = { points: Float64Array.from({ length: 2 * n }, (_, k) => 2 + Math.cos(3 * k)), n, d: 2 };
    const { perm } = exactPlan(a, b);
    const eps = 1e-4;
    const s = sinkhornW2(a, b, eps);
    const { Ta, Tb } = barycentricMaps(a, b, eps, s.potentials);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < 2; k++) {
        expect(Ta[i * 2 + k]).toBeCloseTo(b.points[perm![i] * 2 + k], 6);
        expect(Tb[perm![i] * 2 + k]).toBeCloseTo(a.points[i * 2 + k], 6);
      }
  });
});
