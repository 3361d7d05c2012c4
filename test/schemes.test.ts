// Every scheme and metric on particles (schemes.ts), checked against what
// the mathematics says they must do:
//   - without noise the energy decreases for small steps (euler, jko, KL,
//     WFR, dab) on the reference scenarios;
//   - energy–dissipation: (F_{n+1} - F_n) / (-step D_n) → 1, the error falling
//     with the step;
//   - jko agrees with euler to first order, and stays stable where euler
//     diverges;
//   - Langevin with V = |x|^2/2 at temperature tau samples N(0, tau I);
//   - Fisher–Rao with fixed positions converges to the minimising weights;
//   - dab: alpha = 0 is euler scaled by 1/beta; alpha > 0 matches a dense solve;
//   - same seed, same run (bit for bit); another seed, another run;
//   - weighted expectations: the first variation is the derivative in the weights.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCompiled, type FlowRun } from '../src/api.js';
import { compile, type Compiled } from '../src/compiler/compile.js';
import { CpuBackend } from '../src/runtime/backend-cpu.js';
import { loadMeasures } from '../src/runtime/inputs.js';
import { evalSchedule } from '../src/runtime/schemes.js';
import { REFERENCE, tempDir } from './helpers.js';

/** Compile source text as if it were the file `dir/name.flow` (data files resolve there). */
function compileText(source: string, dir = tempDir(), name = 'spec.flow'): Compiled {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  const r = compile(source, { file });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length) throw new Error(errors.map((d) => `${d.span?.line}:${d.span?.column} ${d.message}`).join('\n'));
  return r.compiled;
}

const run = (source: string, dir?: string): Promise<FlowRun> => runCompiled(compileText(source, dir), { threads: 1 });

/** A reference scenario's spec with its metric and scheme replaced, compiled in a copy of its folder. */
function referenceVariant(name: string, metric: string, scheme: string, extra = ''): { source: string; dir: string } {
  const dir = tempDir();
  fs.cpSync(path.join(REFERENCE, name), dir, { recursive: true });
  let source = fs.readFileSync(path.join(dir, 'spec.flow'), 'utf8');
  source = source.replace(/^metric .*$/m, '').replace(/^scheme .*$/m, '').replace(/^record .*$/m, '');
  source += `\n${metric}\n${scheme}\n${extra}\n`;
  return { source, dir };
}

const column = (r: FlowRun, name: string) => {
  const k = r.result.trace.columns.indexOf(name);
  if (k < 0) throw new Error(`no column ${name} in ${r.result.trace.columns.join(', ')}`);
  return r.result.trace.rows.map((row) => row[k]);
};

const GAUSS = 'kernel kd(x, y) = exp(-|x - y|^2 / 2)';
/** the same Gaussian kernel on the relu-teacher's record space (w: R, theta: R^2) */
const GAUSS_RECORD = 'kernel kd(u, v) = exp(-((u.w - v.w)^2 + |u.theta - v.theta|^2) / 2)';
const METRICS: [string, string, string][] = [
  ['euler', 'metric W2', 'euler'],
  ['jko', 'metric W2', 'jko'],
  ['KL', 'metric KL', 'euler'],
  ['WFR', 'metric WFR(a = 1, b = 2)', 'euler'],
  ['dab', 'metric dab(alpha = 0.5, beta = 1; kd)', 'euler'],
];
const SMALL_STEP: Record<string, number> = { 'mmd-three-modes': 0.05, 'potential-interaction': 0.01, 'relu-teacher': 0.02 };

describe('without noise the energy decreases for small steps', () => {
  for (const ref of ['mmd-three-modes', 'potential-interaction', 'relu-teacher'])
    for (const [label, metric, scheme] of METRICS)
      it(`${ref}: ${label}`, async () => {
        const step = SMALL_STEP[ref];
        const s = scheme === 'jko' ? `scheme jko(step = ${step}, steps = 15, inner = 100, tol = 1e-10)` : `scheme euler(step = ${step}, steps = 15)`;
        const { source, dir } = referenceVariant(ref, metric, s, `${ref === 'relu-teacher' ? GAUSS_RECORD : GAUSS}\nrecord every 1: F`);
        const r = await run(source, dir);
        expect(r.result.status).toBe('ok');
        const F = column(r, 'F');
        for (let n = 1; n < F.length; n++) expect(F[n], `step ${n}`).toBeLessThan(F[n - 1]);
      });
});

describe('energy–dissipation: (F1 - F0) / (-step D0) → 1 as the step shrinks', () => {
  for (const [label, metric] of [
    ['W2', 'metric W2'],
    ['KL', 'metric KL'],
    ['WFR', 'metric WFR(a = 1, b = 2)'],
    ['dab', 'metric dab(alpha = 0.5, beta = 1; kd)'],
  ])
    it(label, async () => {
      const errorAt = async (step: number) => {
        const { source, dir } = referenceVariant('mmd-three-modes', metric, `scheme euler(step = ${step}, steps = 1)`, `${GAUSS}\nrecord every 1: F, dissipation`);
        const r = await run(source, dir);
        const [F0, F1] = column(r, 'F');
        const [D0] = column(r, 'dissipation');
        expect(D0).toBeGreaterThan(0);
        return Math.abs((F1 - F0) / (-step * D0) - 1);
      };
      const coarse = await errorAt(0.05);
      const fine = await errorAt(0.0125);
      // first order: the error falls about as the step (a factor 4 here)
      expect(fine).toBeLessThan(coarse / 2.5);
      expect(fine).toBeLessThan(0.01);
    });
});

describe('jko', () => {
  it('agrees with euler to first order: one-step difference falls as step^2', async () => {
    const diff = async (step: number) => {
      const a = referenceVariant('mmd-three-modes', 'metric W2', `scheme jko(step = ${step}, steps = 1, inner = 500, tol = 1e-13)`);
      const b = referenceVariant('mmd-three-modes', 'metric W2', `scheme euler(step = ${step}, steps = 1)`);
      const [ra, rb] = [await run(a.source, a.dir), await run(b.source, b.dir)];
      let e = 0;
      for (let k = 0; k < ra.result.positions.length; k++) e = Math.max(e, Math.abs(ra.result.positions[k] - rb.result.positions[k]));
      return e;
    };
    const d1 = await diff(0.2);
    const d2 = await diff(0.05);
    expect(d1).toBeGreaterThan(0);
    // second order in the step: a factor 16 for a step 4 times smaller
    expect(d2).toBeLessThan(d1 / 10);
  });

  it('solves the proximal problem: x = x0 + step v(x) at convergence (quadratic potential, exact answer)', async () => {
    const r = await run(`flow prox
particles mu in R^2: 20 ~ normal([1, -2], 1)
energy F = E[x ~ mu] 3 * |x|^2 / 2
scheme jko(step = 0.5, steps = 1, inner = 200, tol = 1e-14)
record every 1: F, inner
`);
    // argmin 3|y|^2/2 + |y - x0|^2/(2 step): y = x0 / (1 + 3 step)
    const x0 = loadMeasures(r.compiled.ir).measures[0].data;
    for (let k = 0; k < x0.length; k++) expect(r.result.positions[k]).toBeCloseTo(x0[k] / 2.5, 12);
    expect(column(r, 'inner')[1]).toBeGreaterThan(1);
  });

  it('the stiff spec: jko is stable where euler diverges', async () => {
    const spec = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'specs', 'jko-stiff-potential.flow');
    const source = fs.readFileSync(spec, 'utf8');
    const jko = await run(source);
    expect(jko.result.status).toBe('ok');
    const F = column(jko, 'F');
    for (let n = 1; n < F.length; n++) expect(F[n]).toBeLessThanOrEqual(F[n - 1]);
    expect(F[F.length - 1]).toBeLessThan(F[0] / 10);
    const euler = await run(source.replace(/^scheme jko\((step = [^,]+), (steps = [^,]+),.*$/m, 'scheme euler($1, $2)'));
    expect(euler.result.status).toBe('diverged');
  });

  it("'inner' without jko or dab is a warning and a column of zeros", async () => {
    const source = `flow plain
particles mu in R^2: 5 ~ normal([0, 0], 1)
energy F = E[x ~ mu] |x|^2
scheme euler(step = 0.1, steps = 2)
record every 1: F, inner
`;
    const r = compile(source, { file: 'plain.flow' });
    expect(r.diagnostics.map((d) => `${d.severity} ${d.span?.line}:${d.span?.column}`)).toEqual(['warning 5:20']);
    expect(column(await run(source), 'inner')).toEqual([0, 0, 0]);
  });

  it('warns when the inner iterations run out before tol', async () => {
    const r = await run(`flow starved
particles mu in R^2: 20 ~ normal([1, -2], 1)
sample nu in R^2: 20 ~ normal([0, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme jko(step = 1, steps = 3, inner = 2, tol = 1e-14)
`);
    expect(r.warnings.map((w) => w.message).join('\n')).toMatch(/jko: the 2 inner iterations ran out before .* in 3 of 3 steps/);
    expect(r.result.inner?.unconverged).toBe(3);
  });
});

describe('Langevin diffusion', () => {
  it('with V = |x|^2/2 at temperature tau reaches N(0, tau I) (N = 2000)', async () => {
    const tau = 0.5;
    const N = 2000;
    const r = await run(`flow langevin
seed 11
particles mu in R^2: ${N} ~ normal([3, -2], 0.1)
energy F = E[x ~ mu] |x|^2 / 2
scheme euler(step = 0.01, steps = 800)
diffusion ${tau}
`);
    const x = r.result.positions;
    const mean = [0, 0];
    for (let i = 0; i < N; i++) for (let c = 0; c < 2; c++) mean[c] += x[2 * i + c] / N;
    const cov = [0, 0, 0];
    for (let i = 0; i < N; i++) {
      const a = x[2 * i] - mean[0];
      const b = x[2 * i + 1] - mean[1];
      cov[0] += (a * a) / N;
      cov[1] += (a * b) / N;
      cov[2] += (b * b) / N;
    }
    // sampling error: sd(mean) = sqrt(tau/N), sd(var) = tau sqrt(2/N), sd(cov) = tau / sqrt(N); 4 sd
    for (const m of mean) expect(Math.abs(m)).toBeLessThan(4 * Math.sqrt(tau / N));
    // Euler–Maruyama's stationary variance is tau / (1 - step/2): 0.5 % above tau
    for (const v of [cov[0], cov[2]]) expect(Math.abs(v - tau)).toBeLessThan(4 * tau * Math.sqrt(2 / N));
    expect(Math.abs(cov[1])).toBeLessThan((4 * tau) / Math.sqrt(N));
  });
});

/** Solve A x = b by Gaussian elimination with partial pivoting (small dense systems in tests). */
function solveDense(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

describe('Fisher–Rao (metric KL)', () => {
  it('with fixed positions converges to the weights that minimise F (direct KKT solution)', async () => {
    // F(w) = 1/2 (w'Kw - 2 w'b + c): on the simplex its minimiser solves Kw - b = lambda 1, sum w = 1
    const xs = [-1.5, -0.4, 0.3, 1.2];
    const ys = [-1.2, -1.0, 0.1, 0.2, 0.4, 1.0, 1.1, 1.5];
    const dir = tempDir({ 'x.csv': xs.join('\n') + '\n', 'y.csv': ys.join('\n') + '\n' });
    const r = await run(
      `flow fisher_rao
particles mu in R from "x.csv"
sample nu in R from "y.csv"
kernel k(x, y) = exp(-(x - y)^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
metric KL
scheme euler(step = 2, steps = 3000)
record every 3000: F, positions(mu), weights(mu)
`,
      dir,
    );
    const k = (a: number, b: number) => Math.exp(-((a - b) ** 2) / 2);
    const n = xs.length;
    const A = xs.map((a) => [...xs.map((b) => k(a, b)), -1]);
    A.push([...xs.map(() => 1), 0]);
    const rhs = [...xs.map((a) => ys.reduce((s, y) => s + k(a, y), 0) / ys.length), 1];
    const sol = solveDense(A, rhs).slice(0, n);
    for (const w of sol) expect(w).toBeGreaterThan(0.01); // an interior minimiser: the flow can reach it
    const w = r.result.weights!;
    for (let i = 0; i < n; i++) expect(w[i]).toBeCloseTo(sol[i], 6);
    // positions never move under KL
    expect([...r.result.positions]).toEqual(xs);
    // mu_weights.npy holds every record, beside (not over) mu.npy
    expect(r.result.snapshots.map((s) => `${s.column}:${s.kind}`)).toEqual(['mu:positions', 'mu_weights:weights']);
    expect(r.result.snapshots[1].records.length).toBe(2);
  });

  it('a huge step concentrates the weights instead of overflowing', async () => {
    const r = await run(`flow kl_huge
seed 4
particles mu in R^2: 10 ~ normal([0, 0], 1)
sample nu in R^2: 12 ~ normal([1, 0], 1)
kernel k(x, y) = exp(-|x - y|^2)
energy F = 1/2 * mmd2(mu, nu; k)
metric KL
scheme euler(step = 1e6, steps = 3)
`);
    expect(r.result.status).toBe('ok');
    const w = [...r.result.weights!];
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Math.max(...w)).toBeGreaterThan(0.3);
  });

  it('weighted expectations: the first variation is the derivative of F in the weights', () => {
    const c = compileText(`flow weighted
particles mu in R^2: 6 ~ normal([0, 0], 1)
sample nu in R^2: 5 ~ normal([1, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
fn W(x, y) = |x - y|^2 * exp(-|x|^2)
energy F = 1/2 * mmd2(mu, nu; k) + E[x ~ mu, y ~ mu] W(x, y) + (E[x ~ mu] x[0])^2
metric KL
scheme euler(step = 0.1, steps = 1)
`);
    const { measures } = loadMeasures(c.ir);
    const positions = measures.find((m) => m.name === 'mu')!.data.slice();
    const b = new CpuBackend(c, measures, positions);
    const w = b.state.weights!;
    // uneven weights (need not sum to 1: F is extended multilinearly)
    for (let i = 0; i < w.length; i++) w[i] = 0.1 + 0.05 * i;
    b.setup();
    const fv = new Float64Array(6);
    b.run('firstVariation', fv);
    const F = () => {
      const out = new Float64Array(c.observed.length);
      b.run('observe', out);
      return out[0];
    };
    const h = 1e-6;
    for (let i = 0; i < 6; i++) {
      const w0 = w[i];
      w[i] = w0 + h;
      const up = F();
      w[i] = w0 - h;
      const down = F();
      w[i] = w0;
      expect((up - down) / (2 * h)).toBeCloseTo(fv[i], 7);
    }
  });
});

describe('dab on particles', () => {
  it('alpha = 0 is euler scaled by 1/beta', async () => {
    const a = referenceVariant('mmd-three-modes', 'metric dab(alpha = 0, beta = 4; kd)', 'scheme euler(step = 0.4, steps = 5)', `${GAUSS}\nrecord every 1: F, inner`);
    const b = referenceVariant('mmd-three-modes', 'metric W2', 'scheme euler(step = 0.1, steps = 5)', 'record every 1: F');
    const [ra, rb] = [await run(a.source, a.dir), await run(b.source, b.dir)];
    for (let k = 0; k < ra.result.positions.length; k++) expect(ra.result.positions[k]).toBeCloseTo(rb.result.positions[k], 13);
    // beta I is solved in one conjugate-gradient iteration
    expect(column(ra, 'inner').slice(1)).toEqual([1, 1, 1, 1, 1]);
  });

  it('alpha > 0: the conjugate-gradient velocity matches a dense solve of (beta I + (alpha/N) H) v = -grad F\'', async () => {
    const alpha = 3;
    const beta = 0.5;
    const step = 0.1;
    const source = (metric: string) => `flow dab_small
seed 5
particles mu in R^2: 12 ~ normal([0, 0], 1)
sample nu in R^2: 9 ~ normal([1, 1], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
kernel kd(x, y) = exp(-|x - y|^2 / (2 * 0.7^2))
energy F = 1/2 * mmd2(mu, nu; k)
${metric}
scheme euler(step = ${step}, steps = 1)
`;
    const rd = await run(source(`metric dab(alpha = ${alpha}, beta = ${beta}; kd)`));
    const rw = await run(source('metric W2'));
    const x0 = loadMeasures(rd.compiled.ir).measures.find((m) => m.name === 'mu')!.data;
    const N = 12;
    const d = 2;
    const s2 = 0.7 ** 2;
    // H(x, x')_ab = d^2 k / dx_a dx'_b = k (delta_ab / s^2 - r_a r_b / s^4), r = x - x'
    const A: number[][] = Array.from({ length: N * d }, () => new Array<number>(N * d).fill(0));
    for (let i = 0; i < N; i++)
      for (let j = 0; j < N; j++) {
        const r = [x0[i * d] - x0[j * d], x0[i * d + 1] - x0[j * d + 1]];
        const kv = Math.exp(-(r[0] ** 2 + r[1] ** 2) / (2 * s2));
        for (let a = 0; a < d; a++)
          for (let b = 0; b < d; b++) A[i * d + a][j * d + b] = (alpha / N) * kv * ((a === b ? 1 / s2 : 0) - (r[a] * r[b]) / s2 ** 2);
      }
    for (let k = 0; k < N * d; k++) A[k][k] += beta;
    const vW2 = Array.from(rw.result.positions, (x, k) => (x - x0[k]) / step);
    const v = solveDense(A, vW2);
    const vDab = Array.from(rd.result.positions, (x, k) => (x - x0[k]) / step);
    const scale = Math.max(...v.map(Math.abs));
    for (let k = 0; k < v.length; k++) expect(Math.abs(vDab[k] - v[k]) / scale).toBeLessThan(1e-8);
    expect(rd.result.inner!.max).toBeGreaterThan(1);
    expect(rd.result.inner!.unconverged).toBe(0);
  });
});

describe('noise injection and diffusion draw from the seed', () => {
  const source = (seed: number) => `flow noisy
seed ${seed}
particles mu in R^2: 40 ~ normal([0, 0], 1)
sample nu in R^2: 30 ~ normal([2, 0], 0.3)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 10)
noise 0.5 / sqrt(1 + n)
diffusion 0.01 * exp(-t)
record every 5: F, w2(mu, nu)
`;
  it('same seed, same run bit for bit; another seed, another run', async () => {
    const [a, b, c] = [await run(source(3)), await run(source(3)), await run(source(4))];
    expect(a.result.trace.rows).toEqual(b.result.trace.rows);
    expect(Buffer.from(a.result.positions.buffer).equals(Buffer.from(b.result.positions.buffer))).toBe(true);
    expect(a.result.trace.rows[2][2]).not.toBe(c.result.trace.rows[2][2]);
  });

  it('noise changes the trajectory, and only through the seeded draws', async () => {
    const plain = await run(source(3).replace(/^noise .*$/m, '').replace(/^diffusion .*$/m, ''));
    const noisy = await run(source(3));
    expect(noisy.result.trace.rows[2][2]).not.toBe(plain.result.trace.rows[2][2]);
  });

  it('diffusion after a jko step: added once per step, from the seed', async () => {
    const jko = (extra: string) => `flow jko_langevin
seed 9
particles mu in R^2: 30 ~ normal([1, 0], 1)
energy F = E[x ~ mu] |x|^2 / 2
scheme jko(step = 0.5, steps = 4, inner = 100, tol = 1e-12)
${extra}
`;
    const [a, b, plain] = [await run(jko('diffusion 0.1')), await run(jko('diffusion 0.1')), await run(jko(''))];
    expect(Buffer.from(a.result.positions.buffer).equals(Buffer.from(b.result.positions.buffer))).toBe(true);
    // without diffusion the proximal step of |x|^2/2 is x / (1 + step) exactly; diffusion moves it
    const x0 = loadMeasures(plain.compiled.ir).measures[0].data;
    for (let k = 0; k < x0.length; k++) expect(plain.result.positions[k]).toBeCloseTo(x0[k] / 1.5 ** 4, 10);
    expect(Math.max(...a.result.positions.map((x, k) => Math.abs(x - plain.result.positions[k])))).toBeGreaterThan(0.05);
  });

  it('schedules are evaluated in n and t', () => {
    const c = compileText(source(1));
    expect(evalSchedule(c.ir.noise!.node, 3, 1.5)).toBeCloseTo(0.25, 15);
    // shown as written (run.json, the summary)
    expect([c.ir.noise!.text, c.ir.diffusion!.text]).toEqual(['0.5 / sqrt(1 + n)', '0.01 * exp(-t)']);
    expect(evalSchedule(c.ir.diffusion!.node, 3, 1.5)).toBeCloseTo(0.01 * Math.exp(-1.5), 15);
  });
});
