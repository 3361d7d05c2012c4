// Parametric flows (LANGUAGE.md, "Parametric flows"; DESIGN.md, "Parametric
// states"): the symbolic gradient in the states against finite differences
// of the energy over random parametric energies, the metrics on states
// against their dense formulas, KWNG and the Fisher metric against their
// closed forms, and critics.

import fc from 'fast-check';
import { Matrix, solve } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { run } from '../src/library.js';
import { compile as compileSource, type Compiled } from '../src/compiler/compile.js';
import { CpuBackend } from '../src/runtime/backend-cpu.js';
import { loadMeasures, type MeasureData } from '../src/runtime/inputs.js';
import { StateStepper } from '../src/runtime/state-flow.js';
import { STATE_METRIC_STEPS, basisRows, pinvApply } from '../src/runtime/state-metrics.js';
import fs from 'node:fs';
import path from 'node:path';
import { decodeNpy } from '../src/runtime/npy.js';
import { ROOT, flowc, tempDir } from './helpers.js';

interface Opened {
  compiled: Compiled;
  measures: MeasureData[];
  backend: CpuBackend;
  stepper: StateStepper;
  /** the energy at the vectors' current values */
  energy(): Promise<number>;
  /** run a closed program of p outputs */
  program(name: string, p: number): Promise<Float64Array>;
}

async function open(source: string): Promise<Opened> {
  const r = compileSource(source, { file: 'parametric.flow' });
  if (!r.compiled) throw new Error(r.diagnostics.map((d) => d.message).join('\n') + '\n' + source);
  const compiled = r.compiled;
  const { measures } = loadMeasures(compiled.ir);
  const particles = measures.find((m) => m.name === compiled.ir.particles);
  const backend = new CpuBackend(compiled, measures, particles ? particles.data.slice() : new Float64Array(0));
  backend.setup();
  const stepper = new StateStepper(compiled, backend);
  await stepper.refresh();
  const program = async (name: string, p: number) => {
    await stepper.refresh();
    const out = new Float64Array(p);
    backend.run(name, out);
    return out;
  };
  return { compiled, measures, backend, stepper, energy: async () => (await program('observe', compiled.observed.length))[0], program };
}

/** Central differences of the energy in every coordinate of the vectors with `role`. */
async function finiteDifferences(f: Opened, role: 'state' | 'critic'): Promise<Float64Array> {
  const vs = f.stepper.vectors.filter((v) => v.ir.role === role);
  const out: number[] = [];
  for (const v of vs)
    for (let c = 0; c < v.data.length; c++) {
      const x = v.data[c];
      const h = 1e-5 * Math.max(1, Math.abs(x));
      v.data[c] = x + h;
      const up = await f.energy();
      v.data[c] = x - h;
      const down = await f.energy();
      v.data[c] = x;
      out.push((up - down) / (2 * h));
    }
  await f.stepper.refresh();
  return Float64Array.from(out);
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

// ------------------------------------------------------------ random parametric energies

const coef = fc.double({ min: 0.2, max: 1.5, noNaN: true });
const small = fc.double({ min: -0.8, max: 0.8, noNaN: true });

/** One term of an energy, reading the models q (R^2, of theta), r (a record model of data, of theta and eta) and the states directly. */
const term = fc.oneof(
  coef.map((a) => `${a} * mmd2(q, p; k)`),
  coef.map((a) => `${a} * E[x ~ q] log(1 + |x|^2)`),
  coef.map((a) => `${a} * E[x ~ q, y ~ p] sin(dot(x, y) / 3)`),
  coef.map((a) => `${a} * E[(x, y) ~ r] (x - y)^2`),
  coef.map((a) => `${a} * E[(x, y) ~ data] (E[u ~ q] tanh(dot(u, [x, 1])) - y)^2`),
  coef.map((a) => `${a} * E[w ~ r] E[u ~ q] exp(-(w.x - u[0])^2) * w.y`),
  coef.map((a) => `${a} * |theta|^2 + ${a} * eta^2`),
  coef.map((a) => `${a} * (E[x ~ q] x[0] - theta[1])^2`),
);

function parametricSpec(init: number[], eta: number, terms: string[]): string {
  return `flow random_parametric
seed 3
state theta in R^4 = [${init.join(', ')}]
state eta in R = ${eta}
sample z in R^2: 7 ~ normal([0, 0], 1)
sample p in R^2: 6 ~ normal([0.5, -0.5], 1)
sample data in (x: R, y: R): 5 ~ (x: normal(0, 1), y: uniform(-1, 1))
fn G(th, s) = [th[0] * s[0] + tanh(th[1] * s[1]), th[2] + th[3] * s[0] * s[1]]
model q = push(z, s => G(theta, s))
model r = push(data, (x, y) => (x: theta[0] * x + eta * sin(x), y: y))
kernel k(a, b) = exp(-|a - b|^2 / 2)
energy F = ${terms.join('\n  + ')}
metric euclid
scheme euler(step = 0.1, steps = 1)
`;
}

describe('the gradient in the states equals finite differences of the energy', () => {
  it('over random parametric energies (vector and record models, nested expectations, states read directly, two states)', async () => {
    let worst = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(small, { minLength: 4, maxLength: 4 }), small, fc.array(term, { minLength: 1, maxLength: 3 }), async (init, eta, terms) => {
        const f = await open(parametricSpec(init, eta, terms));
        const g = await f.program('gradient', 5);
        const fd = await finiteDifferences(f, 'state');
        // relative to the gradient's size, with a floor where it vanishes (theta near 0)
        const err = relativeError(g, fd) * Math.min(1, Math.hypot(...fd) / 1e-3);
        worst = Math.max(worst, err);
        expect(err, parametricSpec(init, eta, terms)).toBeLessThan(1e-6);
      }),
      { numRuns: 40, seed: 11 },
    );
    expect(worst).toBeLessThan(1e-6);
  });

  it('a critic: ∇_psi F through a learned kernel, in a flow of states and in a flow of particles', async () => {
    const kernel = 'kernel k(a, b) = exp(-|a * psi[0] - b * psi[1]|^2 / 2 - psi[2] * |a - b|^2)';
    const states = await open(`flow critic_states
state theta in R^2 = [0.3, 1.2]
critic psi in R^3 = [1.1, 0.9, 0.2] ascent(step = 0.1, inner = 2)
sample z in R: 9 ~ normal(0, 1)
sample p in R: 8 ~ normal(1, 0.5)
model q = push(z, s => theta[0] + theta[1] * s)
${kernel}
energy F = 1/2 * mmd2(q, p; k)
metric euclid
scheme euler(step = 0.1, steps = 1)`);
    expect(relativeError(await states.program('criticGradient', 3), await finiteDifferences(states, 'critic'))).toBeLessThan(1e-6);
    const particles = await open(`flow critic_particles
particles mu in R: 9 ~ normal(0, 1)
critic psi in R^3 = [1.1, 0.9, 0.2]
sample p in R: 8 ~ normal(1, 0.5)
${kernel}
energy F = 1/2 * mmd2(mu, p; k)
scheme euler(step = 0.1, steps = 1)`);
    expect(relativeError(await particles.program('criticGradient', 3), await finiteDifferences(particles, 'critic'))).toBeLessThan(1e-6);
  });
});

// ------------------------------------------------------------ metrics on states

const gan = (metric: string, step: number, extra = '') => `flow gan_small
seed 5
state theta in R^6 = [1, 0.2, -0.1, 0.8, 0.3, -0.2]
sample z in R^2: 12 ~ normal([0, 0], 1)
sample p in R^2: 10 ~ mixture([1, 1], normal([-2, 0], 0.3), normal([2, 0], 0.3))
fn G(th, s) = [th[0]*s[0] + th[1]*s[1] + th[4], th[2]*s[0] + th[3]*s[1] + th[5]]
model q = push(z, s => G(theta, s))
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(q, p; k)
${extra}
metric ${metric}
scheme euler(step = ${step}, steps = 6)
record every 1: F, theta`;

describe('metrics on states', () => {
  it('dab with alpha = 0 is euclid with step / beta', async () => {
    const a = await run(gan('dab(alpha = 0, beta = 4; k)', 0.8));
    const b = await run(gan('euclid', 0.2));
    expect(a.status).toBe('ok');
    const ta = a.states.theta.data;
    const tb = b.states.theta.data;
    expect(ta.length).toBe(7 * 6);
    expect(relativeError(ta, tb)).toBeLessThan(1e-13);
    expect(a.trace.F[6]).toBeLessThan(a.trace.F[0]);
  });

  it('dab with alpha > 0 solves (beta I + alpha G_k) u = g with G_k assembled by hand', async () => {
    const alpha = 3;
    const beta = 0.5;
    const f = await open(gan(`dab(alpha = ${alpha}, beta = ${beta}; k)`, 0.1));
    const g = await f.program('gradient', 6);
    const u = await STATE_METRIC_STEPS.dab!({ compiled: f.compiled, backend: f.backend, p: 6, seed: 5 }, g, 0);
    // G_k = (1/N²) sum_{n,n'} J_nᵀ H(x_n, x_n') J_n' for the affine model and the Gaussian kernel:
    // J_n = [[z0, z1, 0, 0, 1, 0], [0, 0, z0, z1, 0, 1]], H(x, y) = k(x, y) (I - (x - y)(x - y)ᵀ)
    const z = f.measures.find((m) => m.name === 'z')!;
    const th = f.stepper.vectors[0].data;
    const N = z.size;
    const pts = Array.from({ length: N }, (_, n) => {
      const [z0, z1] = [z.data[2 * n], z.data[2 * n + 1]];
      return { x: [th[0] * z0 + th[1] * z1 + th[4], th[2] * z0 + th[3] * z1 + th[5]], J: new Matrix([[z0, z1, 0, 0, 1, 0], [0, 0, z0, z1, 0, 1]]) };
    });
    let Gk = Matrix.zeros(6, 6);
    for (const a of pts)
      for (const b of pts) {
        const dx = [a.x[0] - b.x[0], a.x[1] - b.x[1]];
        const kv = Math.exp(-(dx[0] ** 2 + dx[1] ** 2) / 2);
        const H = new Matrix([[kv * (1 - dx[0] * dx[0]), -kv * dx[0] * dx[1]], [-kv * dx[1] * dx[0], kv * (1 - dx[1] * dx[1])]]);
        Gk = Gk.add(a.J.transpose().mmul(H).mmul(b.J).div(N * N));
      }
    const dense = solve(Matrix.eye(6).mul(beta).add(Gk.mul(alpha)), Matrix.columnVector(Array.from(g))).to1DArray();
    expect(relativeError(u, dense)).toBeLessThan(1e-10);
    // and it is not the Euclidean direction
    expect(relativeError(u, Array.from(g, (x) => x / beta))).toBeGreaterThan(1e-3);
  });

  it('W2natural (KWNG) approaches the exact W2 natural gradient of a location-scale model as the basis grows and eps, lambda shrink', async () => {
    // x = a + r z: J_n = [1, z_n], the exact natural gradient is G⁻¹ g with G = (1/N) sum J_nᵀ J_n
    const spec = (N: number, eps: number, basis: number) => `flow location_scale
seed 2
state theta in R^2 = [0.5, 1.5]
sample z in R: ${N} ~ normal(0, 1)
sample p in R: 200 ~ normal(1, 0.5)
model q = push(z, s => theta[0] + theta[1] * s)
kernel k(x, y) = exp(-(x - y)^2 / 2)
energy F = 1/2 * mmd2(q, p; k)
metric W2natural(eps = ${eps}, lambda = ${eps}, basis = ${basis}; k)
scheme euler(step = 0.1, steps = 1)`;
    const errorOf = async (N: number, eps: number, basis: number) => {
      const f = await open(spec(N, eps, basis));
      const g = await f.program('gradient', 2);
      const u = await STATE_METRIC_STEPS.W2natural!({ compiled: f.compiled, backend: f.backend, p: 2, seed: 2 }, g, 0);
      const z = f.measures.find((m) => m.name === 'z')!.data;
      const m1 = z.reduce((s, v) => s + v, 0) / N;
      const m2 = z.reduce((s, v) => s + v * v, 0) / N;
      const det = m2 - m1 * m1;
      return { err: relativeError(u, [(m2 * g[0] - m1 * g[1]) / det, (-m1 * g[0] + g[1]) / det]), u };
    };
    // eps and lambda shrink, full basis (M ≥ N d)
    const byEps = [];
    for (const eps of [1e-2, 1e-4, 1e-6]) byEps.push((await errorOf(20, eps, 100)).err);
    expect(byEps[1]).toBeLessThan(byEps[0] / 10);
    expect(byEps[2]).toBeLessThan(byEps[1]);
    expect(byEps[2]).toBeLessThan(1e-3);
    // the basis grows (N = 100, eps = 1e-6): 20, 50, every point
    const byBasis = [];
    for (const M of [20, 50, 100]) byBasis.push((await errorOf(100, 1e-6, M)).err);
    expect(byBasis[1]).toBeLessThan(byBasis[0]);
    expect(byBasis[2]).toBeLessThan(byBasis[1]);
    expect(byBasis[2]).toBeLessThan(1e-3);
    // with the full basis the estimate is deterministic: the same at every step
    const f = await open(spec(30, 1e-5, 30));
    const g = await f.program('gradient', 2);
    const ctx = { compiled: f.compiled, backend: f.backend, p: 2, seed: 2 };
    expect(Array.from(await STATE_METRIC_STEPS.W2natural!(ctx, g, 0))).toEqual(Array.from(await STATE_METRIC_STEPS.W2natural!(ctx, g, 7)));
  });

  it('the KWNG basis: every (point, coordinate) in order when M ≥ N d, else distinct rows drawn from the step', () => {
    expect(Array.from(basisRows(3, 2, 6, 1, 0))).toEqual([0, 1, 2, 3, 4, 5]);
    const rows = basisRows(50, 2, 20, 1, 4);
    expect(new Set(Array.from(rows, (r) => Math.floor(r / 2))).size).toBe(20); // M ≤ N: distinct points
    expect(Array.from(basisRows(50, 2, 20, 1, 4))).toEqual(Array.from(rows)); // a pure function of (seed, step)
    expect(Array.from(basisRows(50, 2, 20, 1, 5))).not.toEqual(Array.from(rows));
    const many = basisRows(10, 3, 25, 1, 0); // N < M < N d: distinct pairs
    expect(new Set(many).size).toBe(25);
    expect(Math.max(...many)).toBeLessThan(30);
  });

  it('KL(eps): the Fisher matrix of N(mu, sigma²) approaches diag(1/sigma², 2/sigma²) as N grows', async () => {
    const sigma = 0.7;
    const spec = (N: number) => `flow gaussian_fisher
seed 9
state theta in R^2 = [0.4, ${sigma}]
sample z in R: ${N} ~ normal(0, 1)
sample p in R: 50 ~ normal(1, 0.5)
model q = push(z, s => theta[0] + theta[1] * s) logdensity(x) = -(x - theta[0])^2 / (2 * theta[1]^2) - log(theta[1])
kernel k(x, y) = exp(-(x - y)^2 / 2)
energy F = 1/2 * mmd2(q, p; k)
metric KL(eps = 1e-8)
scheme euler(step = 0.1, steps = 1)`;
    const errors = [];
    for (const N of [100, 1000, 10000]) {
      const f = await open(spec(N));
      const [a, b, c] = await f.program('fisher', 3); // upper triangle: (0,0), (0,1), (1,1)
      errors.push(relativeError([a, b, c], [1 / sigma ** 2, 0, 2 / sigma ** 2]));
    }
    expect(errors[2]).toBeLessThan(errors[0]);
    expect(errors[2]).toBeLessThan(0.05);
  });
});

describe('the pseudo-inverse of the natural-gradient solves', () => {
  it('takes matrices near the float64 range (eps = 1e308 in a spec made the eigensolver fail) and keeps their small eigenvalues dropped', () => {
    // ml-matrix's symmetric eigensolver alone throws a TypeError on this matrix
    const A = new Matrix([[1e308, 5e307, 1e307], [5e307, 1e308, 2e307], [1e307, 2e307, 9e307]]);
    const want = [1, -1, 1];
    const b = Float64Array.from([0, 1, 2].map((i) => want.reduce((s, w, j) => s + A.get(i, j) * w, 0)));
    const x = pinvApply(A, b);
    for (let i = 0; i < 3; i++) expect(x[i]).toBeCloseTo(want[i], 10);
    const D = pinvApply(new Matrix([[1e308, 0], [0, 1e290]]), Float64Array.from([1e308, 5]));
    expect(D[0]).toBeCloseTo(1, 12);
    expect(D[1]).toBe(0); // 1e290 < 1e-12 of the largest: dropped, as for ordinary matrices
    const tiny = pinvApply(new Matrix([[2e-300, 1e-300], [1e-300, 2e-300]]), Float64Array.from([3e-300, 3e-300]));
    expect(tiny[0]).toBeCloseTo(1, 12);
    expect(tiny[1]).toBeCloseTo(1, 12);
  });
});

describe('critics', () => {
  it('a critic with step = 0 leaves the flow as it is without one', async () => {
    const base = (critic: string, kernel: string) => `flow with_critic
seed 4
state theta in R^2 = [0.2, 1.3]
${critic}
sample z in R: 20 ~ normal(0, 1)
sample p in R: 20 ~ normal(1, 0.5)
model q = push(z, s => theta[0] + theta[1] * s)
${kernel}
energy F = 1/2 * mmd2(q, p; k)
metric euclid
scheme euler(step = 0.5, steps = 10)
record every 2: F, theta`;
    const a = await run(base('critic psi in R = 1.0 ascent(step = 0, inner = 3)', 'kernel k(x, y) = exp(-psi * (x - y)^2 / 2)'));
    const b = await run(base('', 'kernel k(x, y) = exp(-(x - y)^2 / 2)'));
    expect(Array.from(a.states.theta.data)).toEqual(Array.from(b.states.theta.data));
    expect(a.trace.F).toEqual(b.trace.F);
    // a moving critic ascends: the same flow with step > 0 ends elsewhere, and psi moved
    const c = await run(base('critic psi in R = 1.0 ascent(step = 0.5, inner = 3)', 'kernel k(x, y) = exp(-psi * (x - y)^2 / 2)'));
    expect(c.finalStates.psi[0]).not.toBe(1);
    expect(relativeError(c.states.theta.data, b.states.theta.data)).toBeGreaterThan(1e-6);
  });
});

describe('schemes on states', () => {
  it('jko: the proximal step in theta of F = |theta - a|^2 / 2 is (theta_k + step a) / (1 + step)', async () => {
    const r = await run(`flow jko_state
state theta in R^2 = [3, -1]
energy F = 1/2 * |theta - [1, 2]|^2
metric euclid
scheme jko(step = 0.5, steps = 3, tol = 1e-12)
record every 1: F, theta`);
    let x = [3, -1];
    for (let k = 1; k <= 3; k++) {
      x = x.map((v, c) => (v + 0.5 * [1, 2][c]) / 1.5);
      expect(relativeError(r.states.theta.data.subarray(2 * k, 2 * k + 2), x)).toBeLessThan(1e-9);
    }
  });

  it('diffusion: Langevin in parameter space samples N(0, tau I) for F = |theta|^2 / 2, and the same seed repeats it', async () => {
    const spec = (seed: number) => `flow langevin_state
seed ${seed}
state theta in R^400 = [${Array(400).fill(2).join(', ')}]
energy F = 1/2 * |theta|^2
metric euclid
scheme euler(step = 0.01, steps = 800)
diffusion 0.5
record every 800: F`;
    const r = await run(spec(1));
    const th = r.finalStates.theta;
    const mean = th.reduce((s, v) => s + v, 0) / th.length;
    const variance = th.reduce((s, v) => s + (v - mean) ** 2, 0) / th.length;
    // stationary variance of Euler–Maruyama: tau / (1 - step / 2); sampling sd of the variance: tau sqrt(2 / p)
    expect(Math.abs(mean)).toBeLessThan(4 * Math.sqrt(0.5 / 400) + 2 * Math.exp(-8));
    expect(Math.abs(variance - 0.5 / (1 - 0.005))).toBeLessThan(4 * 0.5 * Math.sqrt(2 / 400));
    expect(Array.from((await run(spec(1))).finalStates.theta)).toEqual(Array.from(th));
    expect(Array.from((await run(spec(2))).finalStates.theta)).not.toEqual(Array.from(th));
  });
});

describe('running a parametric flow as a user does', () => {
  it('flowc run writes theta columns, theta.npy (records × p), the model\'s positions and the states in run.json', () => {
    const dir = tempDir({ 'gan.flow': gan('dab(alpha = 100, beta = 1; k)', 0.5).replace('record every 1: F, theta', 'record every 2: F, theta, positions(q)') });
    const out = path.join(dir, 'run');
    const r = flowc(['run', path.join(dir, 'gan.flow'), '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('states     theta in R^6; metric dab(alpha = 100, beta = 1; k) on q');
    const header = fs.readFileSync(path.join(out, 'trace.csv'), 'utf8').split('\n')[0];
    expect(header).toBe('step,t,F,theta[0],theta[1],theta[2],theta[3],theta[4],theta[5]');
    const theta = decodeNpy(fs.readFileSync(path.join(out, 'theta.npy')));
    expect(theta.shape).toEqual([4, 6]);
    expect(Array.from(theta.data.subarray(0, 6))).toEqual([1, 0.2, -0.1, 0.8, 0.3, -0.2]);
    const q = decodeNpy(fs.readFileSync(path.join(out, 'q.npy')));
    expect(q.shape).toEqual([4, 12, 2]);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
    expect(json.states[0]).toMatchObject({ name: 'theta', role: 'state', dim: 6, init: [1, 0.2, -0.1, 0.8, 0.3, -0.2] });
    expect(json.states[0].final).toEqual(Array.from(theta.data.subarray(18, 24)));
    // the model's last recorded points are G(theta, z) at the last recorded theta
    const th = theta.data.subarray(18, 24);
    const last = q.data.subarray(3 * 24, 4 * 24);
    const zq = json.measures.find((m: { name: string }) => m.name === 'q');
    expect(zq).toMatchObject({ role: 'model', points: 12, dim: 2, source: 'push of z' });
    // x_0 = G(theta, z_0): recompute z_0 from q at the first record (theta known there) and check the last record
    const q0 = q.data.subarray(0, 2);
    const t0 = [1, 0.2, -0.1, 0.8, 0.3, -0.2];
    const det = t0[0] * t0[3] - t0[1] * t0[2];
    const z0 = [(t0[3] * (q0[0] - t0[4]) - t0[1] * (q0[1] - t0[5])) / det, (-t0[2] * (q0[0] - t0[4]) + t0[0] * (q0[1] - t0[5])) / det];
    expect(last[0]).toBeCloseTo(th[0] * z0[0] + th[1] * z0[1] + th[4], 10);
    expect(last[1]).toBeCloseTo(th[2] * z0[0] + th[3] * z0[1] + th[5], 10);
  });

  it('the MMD-GAN example of LANGUAGE.md runs and decreases its energy', async () => {
    const doc = fs.readFileSync(path.join(ROOT, '..', 'shared', 'LANGUAGE.md'), 'utf8');
    const example = [...doc.matchAll(/```flow\n([\s\S]*?)```/g)].map((m) => m[1]).find((t) => t.includes('flow mmd_gan_dab'))!;
    expect(example).toBeDefined();
    const r = await run(example, { steps: 20 });
    expect(r.status).toBe('ok');
    expect(r.trace.F[r.trace.F.length - 1]).toBeLessThan(r.trace.F[0]);
    expect(r.states.theta.shape[1]).toBe(6);
  });
});
