// Record items and run outputs that researchers asked for (issue 11):
// displacement(mu), |u| of a record point, trace.csv headers that every CSV
// reader takes (no commas or quotes; the same name in every run), run.json's
// transport methods, record-space columns and timestamps, and the summary
// showing a record space as written.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOrThrow, runFile } from '../src/api.js';
import { loadMeasures } from '../src/runtime/inputs.js';
import { flowc, ROOT, tempDir } from './helpers.js';

const RECORD_SPEC = `flow record_space
seed 4
particles mu in (w: R, theta: R^2): 12 ~ (w: normal(0, 1), theta: normal(0, 1))
sample data in R^2: 20 ~ normal(0, 1)
fn phi(u, x) = u.w * tanh(dot(u.theta, x))
energy F = 1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - x[0])^2 + 0.01 * E[u ~ mu] |u|^2
scheme euler(step = 0.5, steps = 6)
record every 2: F, displacement(mu), norm2 = E[u ~ mu] |u|^2, norm = E[u ~ mu] |u|, positions(mu)
`;

describe('record items', () => {
  it('displacement(mu) is (1/N) sum_i |x_i(t) - x_i(0)|^2, and |u|, |u|^2 of a record point run over all blocks', async () => {
    const dir = tempDir({ 'r.flow': RECORD_SPEC });
    const run = await runFile(path.join(dir, 'r.flow'), { threads: 1 });
    const { trace, snapshots } = run.result;
    const col = (name: string) => trace.columns.indexOf(name);
    const mu = snapshots.find((s) => s.measure === 'mu')!;
    const x0 = mu.records[0];
    trace.rows.forEach((row, k) => {
      const x = mu.records[k];
      let disp = 0;
      let n2 = 0;
      let n1 = 0;
      for (let i = 0; i < mu.size; i++) {
        let d2 = 0;
        let u2 = 0;
        for (let c = 0; c < 3; c++) {
          d2 += (x[3 * i + c] - x0[3 * i + c]) ** 2;
          u2 += x[3 * i + c] ** 2;
        }
        disp += d2;
        n2 += u2;
        n1 += Math.sqrt(u2);
      }
      expect(row[col('displacement(mu)')], `record ${k}`).toBeCloseTo(disp / mu.size, 14);
      expect(row[col('norm2')]).toBeCloseTo(n2 / mu.size, 13);
      expect(row[col('norm')]).toBeCloseTo(n1 / mu.size, 13);
    });
    expect(trace.rows[0][col('displacement(mu)')]).toBe(0);
    expect(trace.rows[trace.rows.length - 1][col('displacement(mu)')]).toBeGreaterThan(0);
  });

  it('displacement under a metric that moves the weights is weighted by the current weights', async () => {
    const dir = tempDir({
      'w.flow': `flow weighted
seed 2
particles mu in R: 8 ~ normal(0, 1)
sample nu in R: 6 ~ normal(1, 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
metric WFR(a = 1, b = 1)
scheme euler(step = 0.5, steps = 4)
record every 2: F, displacement(mu), positions(mu), weights(mu)
`,
    });
    const run = await runFile(path.join(dir, 'w.flow'), { threads: 1 });
    const { trace, snapshots } = run.result;
    const x = snapshots.find((s) => s.kind === 'positions')!;
    const w = snapshots.find((s) => s.kind === 'weights')!;
    const last = trace.rows.length - 1;
    let expected = 0;
    for (let i = 0; i < x.size; i++) expected += w.records[last][i] * (x.records[last][i] - x.records[0][i]) ** 2;
    expect(trace.rows[last][trace.columns.indexOf('displacement(mu)')]).toBeCloseTo(expected, 14);
    // the weights moved: the unweighted mean differs
    let plain = 0;
    for (let i = 0; i < x.size; i++) plain += (x.records[last][i] - x.records[0][i]) ** 2 / x.size;
    expect(Math.abs(plain - expected)).toBeGreaterThan(1e-6);
  });
});

describe('trace.csv and run.json', () => {
  it('headers have no commas or quotes; a Sinkhorn w2 keeps its column name, its method and epsilon go to run.json', () => {
    const dir = tempDir();
    const out = path.join(dir, 'run');
    const r = flowc(['run', path.join(ROOT, 'specs', 'mmd-wfr-unbalanced.flow'), '--steps', '20', '--quiet', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const lines = fs.readFileSync(path.join(out, 'trace.csv'), 'utf8').trim().split('\n');
    const header = lines[0].split(',');
    expect(header).toEqual(['step', 't', 'F', 'dissipation', 'w2(mu; nu)']);
    expect(lines[0]).not.toMatch(/"/);
    for (const line of lines.slice(1)) expect(line.split(',')).toHaveLength(header.length);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
    expect(json.transport['w2(mu; nu)'].method).toBe('sinkhorn');
    expect(json.transport['w2(mu; nu)'].eps).toBeGreaterThan(0);
    expect(Object.keys(json.final)).toEqual(header);
  });

  it('run.json names the columns of a record space and carries the start and end of the run; the summary shows the space as written', () => {
    const dir = tempDir({ 'r.flow': RECORD_SPEC });
    const out = path.join(dir, 'run');
    const before = Date.now();
    const r = flowc(['run', 'r.flow', '--out', out], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('mu: 12 points in (w: R, theta: R^2); metric W2');
    const json = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
    const mu = json.measures.find((m: { name: string }) => m.name === 'mu');
    expect(mu).toMatchObject({ space: '(w: R, theta: R^2)', dim: 3, columns: ['w', 'theta[0]', 'theta[1]'] });
    const data = json.measures.find((m: { name: string }) => m.name === 'data');
    expect(data.space).toBe('R^2');
    expect(data.columns).toBeUndefined();
    const started = Date.parse(json.started);
    const finished = Date.parse(json.finished);
    expect(json.started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(started).toBeGreaterThanOrEqual(before - 1000);
    expect(finished).toBeGreaterThanOrEqual(started);
    expect(finished).toBeLessThanOrEqual(Date.now());
  });
});

describe('watching the energy', () => {
  const KL = (step: number, extra = '') => `flow energy_rises
seed 3
particles mu in R^2: 40 ~ normal([0, 0], 2)
sample nu in R^2: 30 ~ normal([1, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
metric KL
scheme euler(step = ${step}, steps = 40)
record every 5: F
${extra}`;

  it('a gradient flow whose energy rises between two records says so once, with the first rise and a hint', () => {
    const dir = tempDir({ 'big.flow': KL(200), 'small.flow': KL(0.5) });
    const big = flowc(['run', 'big.flow', '--quiet', '--out', 'a'], { cwd: dir });
    expect(big.code, big.stderr).toBe(0);
    const trace = fs.readFileSync(path.join(dir, 'a', 'trace.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    const k = trace.findIndex((r, i) => i > 0 && r[2] > trace[i - 1][2]);
    expect(k).toBeGreaterThan(0);
    const lines = big.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `big.flow: warning: F rose from ${Number(trace[k - 1][2].toPrecision(6))} at step ${trace[k - 1][0]} to ${Number(trace[k][2].toPrecision(6))} at step ${trace[k][0]} (the first rise between two records): a flow without noise or diffusion should not raise its energy; the step is probably too large, try a smaller step`,
    );
    // more rises follow (the trace oscillates) but the warning is given once
    expect(trace.filter((r, i) => i > 0 && r[2] > trace[i - 1][2]).length).toBeGreaterThan(1);
    const small = flowc(['run', 'small.flow', '--quiet', '--out', 'b'], { cwd: dir });
    expect([small.code, small.stderr]).toEqual([0, '']);
  });

  it('noise injection may raise the energy: no warning', () => {
    const dir = tempDir({
      'noisy.flow': `flow noisy
seed 3
particles mu in R^2: 40 ~ normal([0, 0], 0.2)
sample nu in R^2: 30 ~ normal([1, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
noise 3
scheme euler(step = 5, steps = 40)
record every 5: F
`,
    });
    const r = flowc(['run', 'noisy.flow', '--quiet', '--out', 'a'], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const F = fs.readFileSync(path.join(dir, 'a', 'trace.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[2]));
    expect(F.some((f, i) => i > 0 && f > F[i - 1])).toBe(true);
  });
});

describe('what the docs promise', () => {
  it('named distribution arguments are honoured: normal(std = 0.01, mean = 10) has mean 10 and std 0.01', () => {
    const dir = tempDir({
      'd.flow': `flow named
seed 9
particles mu in R: 4000 ~ normal(std = 0.01, mean = 10)
sample nu in R^2: 4000 ~ uniform(high = [1, 5], low = [0, 4])
energy F = E[x ~ mu] x^2
scheme euler(step = 0.1, steps = 1)
`,
    });
    const { compiled } = compileOrThrow(path.join(dir, 'd.flow'));
    const { measures } = loadMeasures(compiled.ir);
    const x = measures.find((m) => m.name === 'mu')!.data;
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const std = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / (x.length - 1));
    // standard errors: 0.01 / sqrt(4000) = 1.6e-4 for the mean, about 1.1 % for the std
    expect(Math.abs(mean - 10)).toBeLessThan(1e-3);
    expect(Math.abs(std / 0.01 - 1)).toBeLessThan(0.05);
    const y = measures.find((m) => m.name === 'nu')!.data;
    const col = (c: number) => Array.from({ length: y.length / 2 }, (_, i) => y[2 * i + c]);
    expect(Math.min(...col(0))).toBeGreaterThanOrEqual(0);
    expect(Math.max(...col(0))).toBeLessThan(1);
    expect(Math.min(...col(1))).toBeGreaterThanOrEqual(4);
    expect(Math.max(...col(1))).toBeLessThan(5);
  });
});
