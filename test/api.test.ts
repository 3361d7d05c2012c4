// The library API: `import { compile, run } from 'flowc'`. Results agree with
// the files the CLI writes; nothing is written unless `out` is given; source
// text and paths; errors and divergence; the package's own entry point.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, FlowError, run, type FlowResult } from '../src/index.js';
import { decodeNpy } from '../src/runtime/npy.js';
import { ROOT, tempDir } from './helpers.js';

const SPEC = `flow api_small "a small flow"
let sigma = 1.0
seed 3
particles mu in R^2: 20 ~ normal([0, 0], 1)
sample nu in R^2 from "nu.csv"
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 40)
record every 10: F, m = E[x ~ mu] |x|^2, positions(mu), positions(nu)
`;
const NU = 'x,y\n1,1\n-1,0\n0,-1\n';

describe('compile', () => {
  it('compiles a path or source text, with set and steps, into a described flow', () => {
    const dir = tempDir({ 'a.flow': SPEC, 'nu.csv': NU });
    const f = compile(path.join(dir, 'a.flow'), { set: { sigma: 0.5 }, steps: 7 });
    expect(f).toMatchObject({
      name: 'api_small',
      title: 'a small flow',
      energy: 'F',
      columns: ['step', 't', 'F', 'm'],
      measures: [
        { name: 'mu', role: 'particles', dim: 2 },
        { name: 'nu', role: 'sample', dim: 2 },
      ],
      constants: { sigma: 0.5 },
      set: { sigma: [0.5] },
      source: SPEC,
    });
    expect(f.compiled.ir.scheme.steps).toBe(7);
    // source text: data files are read relative to `file`
    expect(compile(SPEC, { file: path.join(dir, 'inline.flow') }).name).toBe('api_small');
  });

  it('throws a FlowError that carries the diagnostics', () => {
    const bad = SPEC.replace('sigma^2', 'sigmaa^2');
    let caught: unknown;
    try {
      compile(bad, { file: 'mine.flow' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FlowError);
    const d = (caught as FlowError).diagnostics[0];
    expect(d).toMatchObject({ severity: 'error', file: 'mine.flow', span: { line: 6 } });
    expect((caught as Error).message).toContain("mine.flow:6:");
    expect((caught as Error).message).toContain("unknown name 'sigmaa'");
    expect(() => compile('nowhere.flow')).toThrow('nowhere.flow: error: no such file');
  });
});

describe('run', () => {
  it('returns the trace per column and the positions as typed arrays, and agrees with the run folder', async () => {
    const dir = tempDir({ 'a.flow': SPEC, 'nu.csv': NU });
    const before = fs.readdirSync(dir).sort();
    const steps: number[] = [];
    const r = await run(path.join(dir, 'a.flow'), { onStep: (s, total, energy) => steps.push(s, total, energy) });
    // nothing written
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    expect(fs.existsSync(path.join(process.cwd(), 'runs', 'api_small'))).toBe(false);

    expect(r.status).toBe('ok');
    expect(r.steps).toBe(40);
    expect(Object.keys(r.trace)).toEqual(['step', 't', 'F', 'm']);
    expect(r.trace.step).toEqual([0, 10, 20, 30, 40]);
    expect(r.trace.F[4]).toBeLessThan(r.trace.F[0]);
    expect(steps.length).toBe(120);
    expect(steps.slice(-3)).toEqual([40, 40, r.trace.F[4]]);

    const mu = r.positions.mu;
    expect(mu.data).toBeInstanceOf(Float64Array);
    expect(mu.shape).toEqual([5, 20, 2]);
    expect(mu.steps).toEqual([0, 10, 20, 30, 40]);
    expect(Array.from(r.positions.nu.data.subarray(0, 6))).toEqual([1, 1, -1, 0, 0, -1]);
    expect(r.final.shape).toEqual([20, 2]);
    expect(Array.from(r.final.data)).toEqual(Array.from(mu.data.subarray(4 * 40)));
    expect(r.backend).toMatchObject({ name: 'cpu', precision: 'float64' });

    // with out: the same numbers in the files `flowc run` writes
    const out = path.join(dir, 'run');
    const w = await run(path.join(dir, 'a.flow'), { out });
    expect(w.dir).toBe(out);
    expect(fs.readdirSync(out).sort()).toEqual(['mu.npy', 'nu.input.npy', 'nu.npy', 'run.json', 'trace.csv']);
    expect(decodeNpy(fs.readFileSync(path.join(out, 'mu.npy')))).toEqual({ data: mu.data, shape: mu.shape });
    const csv = fs.readFileSync(path.join(out, 'trace.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    expect(csv.map((row) => row[2])).toEqual(r.trace.F);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'))).toMatchObject({ flow: { name: 'api_small' }, status: 'ok', steps: 40 });
    await expect(run(path.join(dir, 'a.flow'), { out })).rejects.toThrow('exists; pass --force to replace the run in it');
  });

  it('runs source text and a compiled Flow; set and steps belong to compile', async () => {
    const dir = tempDir({ 'nu.csv': NU });
    const file = path.join(dir, 'inline.flow');
    const a = await run(SPEC, { file, set: { sigma: 0.5 }, steps: 20 });
    const flow = compile(SPEC, { file, set: { sigma: 0.5 }, steps: 20 });
    const b = await run(flow);
    const strip = (r: FlowResult) => ({ trace: r.trace, positions: r.positions, final: r.final });
    expect(strip(b)).toEqual(strip(a));
    expect(a.trace.step).toEqual([0, 10, 20]);
    await expect(run(flow, { steps: 3 })).rejects.toThrow('set and steps belong to compile');
  });

  it('returns a diverged run with what was recorded before it', async () => {
    const spec = `flow blowup
particles mu in R: 4 ~ normal(0, 1)
energy F = E[x ~ mu] -exp(x^2)
scheme euler(step = 10, steps = 50)
record every 1: F, positions(mu)
`;
    const r = await run(spec);
    expect(r.status).toBe('diverged');
    expect(r.divergence?.step).toBeLessThan(50);
    expect(r.positions.mu.shape[0]).toBe(r.trace.step.length);
  });

  it("is what `import { compile, run } from 'flowc'` gives a program", async () => {
    // a project that depends on flowc: node_modules/flowc is this package (its "exports" point at dist/)
    const dir = tempDir({
      'nu.csv': NU,
      'a.flow': SPEC,
      'main.mjs': `import { compile, run } from 'flowc';
const f = compile('a.flow');
const r = await run('a.flow', { steps: 10 });
console.log(JSON.stringify({ name: f.name, columns: f.columns, F: r.trace.F.length, mu: r.positions.mu.shape, typed: r.positions.mu.data instanceof Float64Array }));
`,
    });
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'flowc'), 'dir');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' }, (e, out, err) => (e ? reject(new Error(err)) : resolve(out))),
    );
    expect(JSON.parse(stdout)).toEqual({ name: 'api_small', columns: ['step', 't', 'F', 'm'], F: 2, mu: [2, 20, 2], typed: true });
  });
});
