// Distinct pairs E[x ~ mu, y ~ mu, x != y], size(mu) and mmd2u (LANGUAGE.md,
// DESIGN.md "Distinct pairs"), checked against the formulas written out by
// hand: the energy, the velocity at noisy query points (the skipped index is
// the particle's own), the first variation of a weighted measure, and the
// unbiased MMD². The finite-difference identity over random distinct-pair
// energies is in fd-identity.test.ts, gpu parity on the log-gas spec in
// gpu-parity.test.ts.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFile } from '../src/api.js';
import { compile } from '../src/compiler/compile.js';
import { CpuBackend } from '../src/runtime/backend-cpu.js';
import { loadMeasures } from '../src/runtime/inputs.js';
import { ROOT, tempDir } from './helpers.js';

// five points in R^2, one of them repeated: a pair of equal points at different indices is a distinct pair
const POINTS = [
  [0.3, -0.2],
  [1.1, 0.4],
  [-0.7, 0.9],
  [0.3, -0.2],
  [-1.2, -0.8],
];
const TARGET = [
  [0.5, 0.5],
  [-0.4, 0.1],
  [0.9, -1.0],
];
const csv = (rows: number[][]) => rows.map((r) => r.join(',')).join('\n') + '\n';

function prepared(body: string) {
  const dir = tempDir({ 'x.csv': csv(POINTS), 'y.csv': csv(TARGET) });
  const file = path.join(dir, 'f.flow');
  const source = `flow f
particles mu in R^2 from "x.csv"
sample nu in R^2 from "y.csv"
${body}
`;
  fs.writeFileSync(file, source);
  const r = compile(source, { file });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length) throw new Error(errors.map((d) => d.message).join('\n'));
  const { measures } = loadMeasures(r.compiled.ir);
  const positions = measures.find((m) => m.name === 'mu')!.data.slice();
  const backend = new CpuBackend(r.compiled, measures, positions);
  backend.setup();
  const observe = () => {
    const out = new Float64Array(r.compiled!.observed.length);
    backend.observe(out);
    return out;
  };
  return { compiled: r.compiled, backend, positions, observe };
}

const dist = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1]);
const N = POINTS.length;

describe('distinct pairs', () => {
  it('sum over i != j only: a body infinite on the diagonal gives a finite energy, (1/N^2) sum_{i != j}', () => {
    // the two equal points at indices 0 and 3 are a distinct pair: keep them out of the log
    const p = prepared(`energy F = E[x ~ mu, y ~ mu, x != y] |x - y|^2 * exp(-|x - y|) - E[x ~ mu, y ~ mu, x != y] 1 / (1 + |x - y|)
scheme euler(step = 0.1, steps = 1)
record every 1: F, singular = E[x ~ mu, y ~ mu, x != y] -log(|x - y|)`);
    let F = 0;
    let pairs = 0;
    for (let i = 0; i < N; i++)
      for (let j = 0; j < N; j++)
        if (i !== j) {
          const r = dist(POINTS[i], POINTS[j]);
          F += r * r * Math.exp(-r) - 1 / (1 + r);
          pairs++;
        }
    const [obs, singular] = p.observe();
    expect(obs).toBeCloseTo(F / N ** 2, 14);
    // the equal points 0 and 3 are a distinct pair: -log 0 is summed
    expect(singular).toBe(Infinity);
    expect(pairs).toBe(N * (N - 1));
  });

  it('the velocity at noisy query points skips the particle\'s own index, not the nearest point', () => {
    const p = prepared(`fn W(x, y) = -log(|x - y|)
energy F = 1/2 * E[x ~ mu, y ~ mu, x != y] W(x, y)
noise 0.5
scheme euler(step = 0.1, steps = 1)`);
    const q = p.backend.state.query;
    expect(q).not.toBe(p.positions);
    // query points moved by hand (as noise injection moves them): query 1 sits next to
    // particle 2, far from particle 1, so skipping the nearest point would skip index 2
    const Q = POINTS.map((x, i) => [x[0] + 0.05 * (i + 1), x[1] - 0.03 * i]);
    Q[1] = [POINTS[2][0] + 0.1, POINTS[2][1]];
    Q.forEach((row, i) => row.forEach((v, c) => (q[2 * i + c] = v)));
    const v = new Float64Array(2 * N);
    p.backend.velocity(v);
    // v(X_i) = -grad_X (1/N) sum_{j != i} W(X_i, x_j) = (1/N) sum_{j != i} (X_i - x_j) / |X_i - x_j|^2
    for (let i = 0; i < N; i++)
      for (let c = 0; c < 2; c++) {
        let s = 0;
        for (let j = 0; j < N; j++) {
          if (j === i) continue;
          const r2 = dist(Q[i], POINTS[j]) ** 2;
          s += (Q[i][c] - POINTS[j][c]) / r2;
        }
        expect(v[2 * i + c], `query point ${i}, coordinate ${c}`).toBeCloseTo(s / N, 12);
      }
    // the pair (query 1, particle 2) at distance 0.1 dominates: 10 / N along x
    expect(v[2]).toBeGreaterThan(10 / N - 2);
  });

  it('with weights (metric KL), the first variation is sum_{j != i} w_j (h(x_i, x_j) + h(x_j, x_i))', () => {
    const p = prepared(`fn h(x, y) = exp(-|x - y - [0.3, 0]|^2) - log(|x - y|^2)
energy F = E[x ~ mu, y ~ mu, x != y] h(x, y)
metric KL
scheme euler(step = 0.1, steps = 1)`);
    const w = p.backend.state.weights!;
    const weights = [0.1, 0.3, 0.15, 0.25, 0.2];
    weights.forEach((x, i) => (w[i] = x));
    const h = (a: number[], b: number[]) => Math.exp(-((a[0] - b[0] - 0.3) ** 2 + (a[1] - b[1]) ** 2)) - Math.log(dist(a, b) ** 2);
    const fv = new Float64Array(N);
    p.backend.run('firstVariation', fv);
    let F = 0;
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let j = 0; j < N; j++)
        if (j !== i) {
          s += weights[j] * (h(POINTS[i], POINTS[j]) + h(POINTS[j], POINTS[i]));
          F += weights[i] * weights[j] * h(POINTS[i], POINTS[j]);
        }
      // the equal points 0 and 3 make h infinite: their first variations are +Infinity
      if (i === 0 || i === 3) expect(fv[i]).toBe(Infinity);
      else expect(fv[i], `point ${i}`).toBeCloseTo(s, 12);
    }
    expect(p.observe()[0]).toBe(F); // +Infinity: the pair (0, 3) is distinct
  });

  it('size(mu) is the number of points, and mmd2u is the unbiased estimator', () => {
    const p = prepared(`kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2u(mu, nu; k)
scheme euler(step = 0.1, steps = 1)
record every 1: F, n = size(mu), m = size(nu), v = mmd2(mu, nu; k)`);
    const k = (a: number[], b: number[]) => Math.exp(-(dist(a, b) ** 2) / 2);
    const M = TARGET.length;
    let xx = 0;
    let yy = 0;
    let xy = 0;
    let xxAll = 0;
    let yyAll = 0;
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) (i !== j ? (xx += k(POINTS[i], POINTS[j])) : 0, (xxAll += k(POINTS[i], POINTS[j])));
    for (let i = 0; i < M; i++) for (let j = 0; j < M; j++) (i !== j ? (yy += k(TARGET[i], TARGET[j])) : 0, (yyAll += k(TARGET[i], TARGET[j])));
    for (const a of POINTS) for (const b of TARGET) xy += k(a, b);
    const u = xx / (N * (N - 1)) - (2 * xy) / (N * M) + yy / (M * (M - 1));
    const v = xxAll / N ** 2 - (2 * xy) / (N * M) + yyAll / M ** 2;
    const [F, n, m, vstat] = p.observe();
    expect(F).toBeCloseTo(u / 2, 14);
    expect([n, m]).toEqual([N, M]);
    expect(vstat).toBeCloseTo(v, 14);
    expect(Math.abs(u - v)).toBeGreaterThan(0.05);
  });
});

describe('the 2-D log gas (specs/log-gas-2d.flow)', () => {
  it('reaches the uniform unit disk: E|x|^2 within sampling error of 1/2, the particles fill the disk', async () => {
    const run = await runFile(path.join(ROOT, 'specs', 'log-gas-2d.flow'), { threads: 1 });
    const { trace, snapshots } = run.result;
    const m2 = trace.rows[trace.rows.length - 1][trace.columns.indexOf('m2')];
    const mu = snapshots.find((s) => s.kind === 'positions' && s.measure === 'mu')!;
    const n = mu.size;
    const final = mu.records[mu.records.length - 1];
    // uniform on the unit disk: |x|^2 is uniform on [0, 1], variance 1/12 (standard error sqrt(1/12/N))
    expect(Math.abs(m2 - 0.5)).toBeLessThan(3 * Math.sqrt(1 / 12 / n));
    const r = Array.from({ length: n }, (_, i) => Math.hypot(final[2 * i], final[2 * i + 1]));
    expect(Math.max(...r)).toBeLessThan(1.02);
    // fills it: the fraction within radius rho is rho^2, in rings and in each quadrant
    for (const rho of [0.25, 0.5, 0.75, 0.9]) {
      const inside = r.filter((x) => x < rho).length / n;
      expect(Math.abs(inside - rho * rho), `fraction within ${rho}`).toBeLessThan(0.03);
    }
    for (let qd = 0; qd < 4; qd++) {
      const count = r.filter((_, i) => Math.floor((Math.atan2(final[2 * i + 1], final[2 * i]) + Math.PI) / (Math.PI / 2)) % 4 === qd).length;
      expect(Math.abs(count / n - 0.25), `quadrant ${qd}`).toBeLessThan(0.03);
    }
  });
});
