// The flowc command line, through the real binary (bin/flowc.js over dist/):
// run and its outputs, the output folder rules, --set / --steps, check,
// compile --emit, golden and test, version and usage errors. No command may
// print a stack trace.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateIr } from '../src/compiler/emit.js';
import { decodeNpy } from '../src/runtime/npy.js';
import { BIN, tempDir } from './helpers.js';

const SPEC = `flow small "a small flow"

let sigma = 1.0
let a = [0, 0]
seed 3
particles mu in R^2: 20 ~ normal(a, 1)
sample nu in R^2: 30 ~ normal([1, 1], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 40)
record every 10: F, m = E[x ~ mu] |x|^2, positions(mu)
`;

const BAD = `flow bad
particles mu in R^2: 20 ~ normal([0, 0], 1)
energy F = E[x ~ mu] |x - [1, 2, 3]|^2
scheme euler(step = 0.1, steps = 10)
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawn the real binary (asynchronously, so that independent tests overlap). */
function flowc(args: string[], cwd: string): Promise<Result> {
  return new Promise<Result>((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
    });
  }).then((r) => {
    // whatever happens, never a stack trace
    expect(r.stderr, `flowc ${args.join(' ')}`).not.toContain('    at ');
    expect(r.stderr, `flowc ${args.join(' ')}`).not.toContain('internal error');
    return r;
  });
}

function readTrace(dir: string): { columns: string[]; rows: number[][] } {
  const lines = fs.readFileSync(path.join(dir, 'trace.csv'), 'utf8').trimEnd().split('\n');
  return { columns: lines[0].split(','), rows: lines.slice(1).map((l) => l.split(',').map(Number)) };
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const readNpy = (file: string) => decodeNpy(fs.readFileSync(file), file);

/** Name → contents and modification time of every file under dir. */
function snapshot(dir: string): Record<string, { text: string; mtime: number }> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((f) => [f, { text: fs.readFileSync(path.join(dir, f), 'latin1'), mtime: fs.statSync(path.join(dir, f)).mtimeMs }]),
  );
}

describe.concurrent('flowc run', () => {
  it('prints a summary and writes run.json, trace.csv and mu.npy under runs/<flow name>', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const r = await flowc(['run', 'small.flow'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = path.join(dir, 'runs', 'small');
    expect(fs.readdirSync(out).sort()).toEqual(['mu.npy', 'run.json', 'trace.csv']);

    // trace.csv: step, t, the energy, the named item; a row at step 0, every 10 steps and at the end
    const trace = readTrace(out);
    expect(trace.columns).toEqual(['step', 't', 'F', 'm']);
    expect(trace.rows.map((row) => row[0])).toEqual([0, 10, 20, 30, 40]);
    expect(trace.rows.map((row) => row[1])).toEqual([0, 5, 10, 15, 20]);
    for (const row of trace.rows) expect(row.every(Number.isFinite)).toBe(true);
    const F = trace.rows.map((row) => row[2]);
    expect(F[4]).toBeLessThan(F[0]);

    // mu.npy: (records, N, d) float64
    const npy = readNpy(path.join(out, 'mu.npy'));
    expect(npy.shape).toEqual([5, 20, 2]);
    expect(npy.data).toBeInstanceOf(Float64Array);
    expect(fs.readFileSync(path.join(out, 'mu.npy')).toString('latin1', 0, 128)).toContain("'descr': '<f8'");
    // the recorded m = E|x|^2 matches the recorded positions
    for (let k = 0; k < 5; k++) {
      let m = 0;
      for (let i = 0; i < 20; i++) m += (npy.data[(k * 20 + i) * 2] ** 2 + npy.data[(k * 20 + i) * 2 + 1] ** 2) / 20;
      expect(m).toBeCloseTo(trace.rows[k][3], 12);
    }

    // run.json: the resolved spec and the final figures
    const run = readJson(path.join(out, 'run.json'));
    expect(run).toMatchObject({
      flow: { name: 'small', title: 'a small flow' },
      status: 'ok',
      seed: 3,
      constants: { sigma: 1, a: [0, 0] },
      set: {},
      metric: { name: 'W2' },
      scheme: { name: 'euler', step: 0.5, steps: 40 },
      steps: 40,
      backend: { name: 'cpu', precision: 'float64' },
      files: ['trace.csv', 'mu.npy', 'run.json'],
    });
    expect(run.spec.file).toBe(path.join(fs.realpathSync(dir), 'small.flow'));
    // provenance: the spec's full text and its sha256
    expect(run.spec.text).toBe(SPEC);
    expect(run.spec.sha256).toBe(createHash('sha256').update(SPEC).digest('hex'));
    expect(run.measures).toEqual([
      { name: 'mu', role: 'particles', points: 20, dim: 2, space: 'R^2', source: 'distribution' },
      { name: 'nu', role: 'sample', points: 30, dim: 2, space: 'R^2', source: 'distribution' },
    ]);
    expect(Object.keys(run.timings_ms).sort()).toEqual(['compile', 'inputs', 'kernels', 'record', 'setup', 'steps', 'write']);
    expect(run.final).toEqual({ step: 40, t: 20, F: F[4], m: trace.rows[4][3] });

    // the summary: energy at start and end, steps, wall time per phase, where it wrote
    const p6 = (x: number) => x.toPrecision(6);
    expect(r.stdout).toContain('flowc small — a small flow');
    expect(r.stdout).toContain('mu: 20 points in R^2; metric W2, euler step 0.5, 40/40 steps');
    expect(r.stdout).toContain(`F          ${p6(F[0])} at step 0 → ${p6(F[4])} at step 40`);
    expect(r.stdout).toMatch(/time {7}compile [\d.]+ m?s · inputs [\d.]+ m?s · kernels [\d.]+ m?s · setup [\d.]+ m?s · steps [\d.]+ m?s \([\d.]+ m?s\/step\) · record [\d.]+ m?s · write [\d.]+ m?s/);
    expect(r.stdout).toContain(`wrote      ${path.join('runs', 'small')}${path.sep}{trace.csv, mu.npy, run.json}`);
  });

  it('refuses to overwrite an output folder without --force, and overwrites with it', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    expect((await flowc(['run', 'small.flow', '--out', 'o', '--steps', '5', '--quiet'], dir)).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'o', 'notes.txt'), 'mine');
    const before = snapshot(path.join(dir, 'o'));

    const r = await flowc(['run', 'small.flow', '--out', 'o'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('o: error: output folder "o" exists; pass --force to replace the run in it (files flowc did not write are kept), or --resume to continue it\n');
    expect(snapshot(path.join(dir, 'o'))).toEqual(before);

    const f = await flowc(['run', 'small.flow', '--out', 'o', '--force', '--quiet'], dir);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe('');
    expect(fs.readdirSync(path.join(dir, 'o')).sort()).toEqual(['mu.npy', 'notes.txt', 'run.json', 'trace.csv']);
    expect(fs.readFileSync(path.join(dir, 'o', 'notes.txt'), 'utf8')).toBe('mine');
    expect(readJson(path.join(dir, 'o', 'run.json')).steps).toBe(40);
    expect(readNpy(path.join(dir, 'o', 'mu.npy')).shape).toEqual([5, 20, 2]);
  });

  it('--set overrides a constant, changes the result and is recorded in run.json', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const [base, set] = await Promise.all([
      flowc(['run', 'small.flow', '--out', 'base', '--quiet'], dir),
      flowc(['run', 'small.flow', '--out', 'set', '--quiet', '--set', 'sigma=0.5'], dir),
    ]);
    expect([base.code, set.code]).toEqual([0, 0]);
    const runB = readJson(path.join(dir, 'base', 'run.json'));
    const runS = readJson(path.join(dir, 'set', 'run.json'));
    expect(runB.constants.sigma).toBe(1);
    expect(runS.constants.sigma).toBe(0.5);
    expect(runS.set).toEqual({ sigma: [0.5] });
    const fB = readTrace(path.join(dir, 'base')).rows.map((row) => row[2]);
    const fS = readTrace(path.join(dir, 'set')).rows.map((row) => row[2]);
    expect(fS[0]).not.toBe(fB[0]);
    // same seed: the same initial positions, whatever the kernel width
    expect(readNpy(path.join(dir, 'set', 'mu.npy')).data.subarray(0, 40)).toEqual(readNpy(path.join(dir, 'base', 'mu.npy')).data.subarray(0, 40));
  });

  it('--set takes a vector: a=[1,0] shifts the initial cloud', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const [base, set] = await Promise.all([
      flowc(['run', 'small.flow', '--out', 'base', '--quiet', '--steps', '0'], dir),
      flowc(['run', 'small.flow', '--out', 'set', '--quiet', '--steps', '0', '--set', 'a=[1,0]'], dir),
    ]);
    expect([base.code, set.code]).toEqual([0, 0]);
    const run = readJson(path.join(dir, 'set', 'run.json'));
    expect(run.set).toEqual({ a: [1, 0] });
    expect(run.constants.a).toEqual([1, 0]);
    const x0 = readNpy(path.join(dir, 'base', 'mu.npy')).data;
    const x1 = readNpy(path.join(dir, 'set', 'mu.npy')).data;
    for (let i = 0; i < 20; i++) {
      expect(x1[2 * i] - x0[2 * i]).toBeCloseTo(1, 12);
      expect(x1[2 * i + 1]).toBe(x0[2 * i + 1]);
    }
  });

  it('--set of the wrong shape or an unknown name is a clear error', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const shape = await flowc(['run', 'small.flow', '--set', 'a=1'], dir);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toContain("small.flow:4:5: error: --set a: expected a vector of 2 numbers, got 1 value(s)");
    const bad = await flowc(['run', 'small.flow', '--set', 'sigma=abc'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("the value of sigma must be a number or a vector like [1, 2], got 'abc'");
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);
  });

  it('--steps 5 runs five steps', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const r = await flowc(['run', 'small.flow', '--steps', '5', '--out', 'o'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('5/5 steps');
    expect(r.stdout).toMatch(/at step 5\n/);
    const run = readJson(path.join(dir, 'o', 'run.json'));
    expect(run.steps).toBe(5);
    expect(run.scheme.steps).toBe(5);
    expect(readTrace(path.join(dir, 'o')).rows.map((row) => row[0])).toEqual([0, 5]);
    expect(readNpy(path.join(dir, 'o', 'mu.npy')).shape).toEqual([2, 20, 2]);
  });

  it('a missing spec file is a clear error', async () => {
    const dir = tempDir();
    const r = await flowc(['run', 'nowhere.flow'], dir);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'nowhere.flow: error: no such file\n' });
    const c = await flowc(['check', '.'], dir);
    expect(c).toEqual({ code: 1, stdout: '', stderr: '.: error: is a folder, not a .flow file\n' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe.concurrent('flowc check', () => {
  it('says ok with the size of each measure', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    expect(await flowc(['check', 'small.flow'], dir)).toEqual({ code: 0, stdout: 'small.flow: ok (mu: 20 × 2, nu: 30 × 2)\n', stderr: '' });
  });

  it('prints the diagnostic with file:line:column and a caret, and fails', async () => {
    const dir = tempDir({ 'bad.flow': BAD });
    const r = await flowc(['check', 'bad.flow'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'bad.flow:3:23: error: cannot subtract R^2 and R^3',
        '  3 | energy F = E[x ~ mu] |x - [1, 2, 3]|^2',
        '    |                       ^^^^^^^^^^^^^',
        '',
      ].join('\n'),
    );
    // run and compile report the same, and write nothing
    for (const args of [['run', 'bad.flow'], ['compile', 'bad.flow', '--emit', 'ir']]) {
      const x = await flowc(args, dir);
      expect(x).toEqual({ code: 1, stdout: '', stderr: r.stderr });
    }
    expect(fs.readdirSync(dir)).toEqual(['bad.flow']);
  });
});

describe.concurrent('flowc compile --emit', () => {
  it('ir is JSON that validates against the IR schema', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const r = await flowc(['compile', 'small.flow', '--emit', 'ir'], dir);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(validateIr(json)).toEqual([]);
    expect(json).toMatchObject({ version: 1, flow: { name: 'small' }, particles: 'mu', energy: { name: 'F' } });
    expect(json.measures.map((m: { name: string }) => m.name)).toEqual(['mu', 'nu']);
  });

  it('ast, ir-text, plan and kernels print their stage', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const [ast, irText, plan, kernels] = await Promise.all(
      ['ast', 'ir-text', 'plan', 'kernels'].map((emit) => flowc(['compile', 'small.flow', '--emit', emit], dir)),
    );
    for (const r of [ast, irText, plan, kernels]) expect([r.code, r.stderr]).toEqual([0, '']);
    const program = JSON.parse(ast.stdout);
    expect(program.decls.map((d: { kind: string }) => d.kind)).toEqual(['flow', 'let', 'let', 'seed', 'measure', 'measure', 'fn', 'energy', 'scheme', 'record']);
    expect(irText.stdout).toMatch(/^energy F = /m);
    expect(irText.stdout).toMatch(/^velocity\[1\] = /m);
    expect(plan.stdout).toContain('# velocity');
    expect(plan.stdout).toMatch(/E\[j_mu~mu\]/);
    expect(kernels.stdout).toContain('"use strict";');
    expect(kernels.stdout).toMatch(/for \(let j = \w+; j < \w+; j\+\+\)/);
    // the kernels are JS function bodies that parse
    const bodies = kernels.stdout.split(/^\/\/ ---- .*$/m).filter((s) => s.trim());
    expect(bodies.length).toBeGreaterThan(2);
    for (const body of bodies) expect(() => new Function(body)).not.toThrow();
  });

  it('without --emit, a short summary of the compilation, and --set without a default in the help', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const [r, help] = await Promise.all([flowc(['compile', 'small.flow'], dir), flowc(['run', '--help'], dir)]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n').length).toBeLessThan(15);
    expect(r.stdout).toMatch(/^flowc small/);
    expect(r.stdout).toMatch(/^ {2}particles {2}mu in R\^2: 20 points drawn$/m);
    expect(r.stdout).toMatch(/^ {2}velocity {3}\d+ stages?, \d+ reduction loops?$/m);
    expect(r.stdout).toContain('--emit ast | ir | ir-text | plan | kernels');
    expect(help.stdout).toMatch(/--set <NAME=VALUE> +override a let constant \(repeatable\)\n/);
    expect(help.stdout).not.toContain('default: {}');
  });

  it('an unknown --emit is a usage error', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    const r = await flowc(['compile', 'small.flow', '--emit', 'asm'], dir);
    expect(r).toEqual({ code: 2, stdout: '', stderr: "error: --emit must be one of ast, ir, ir-text, plan, kernels, wasm, wasm-f32 (got 'asm')\n" });
  });
});

describe.concurrent('flowc golden and flowc test', () => {
  it('golden then test passes; a tampered golden fails with a readable diff', async () => {
    const dir = tempDir({ 'specs/small.flow': SPEC, 'specs/other.txt': 'not a spec' });
    const g = await flowc(['golden', 'specs/small.flow'], dir);
    expect(g.code).toBe(0);
    expect(g.stdout).toBe(`wrote ${path.join('specs', 'small.golden.json')} (5 trace rows, 1 measure(s), rtol 1e-9)\n`);
    const golden = readJson(path.join(dir, 'specs', 'small.golden.json'));
    expect(golden.trace.columns).toEqual(['step', 't', 'F', 'm']);

    const ok = await flowc(['test'], dir);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(new RegExp(`^ok   ${path.join('specs', 'small.flow').replace(/[.\\]/g, '\\$&')} \\([\\d.]+ m?s\\)\\n1 passed, 0 failed\\n$`));

    const F20 = golden.trace.rows[2][2];
    golden.trace.rows[2][2] = F20 * 1.01;
    golden.final.mu.mean[0] += 0.1;
    fs.writeFileSync(path.join(dir, 'specs', 'small.golden.json'), JSON.stringify(golden, null, 1));
    const bad = await flowc(['test', 'specs'], dir);
    expect(bad.code).toBe(1);
    const lines = bad.stdout.split('\n');
    expect(lines[0]).toMatch(/^FAIL specs[/\\]small\.flow \([\d.]+ m?s\)$/);
    expect(lines[1]).toBe(`  trace step 20, F: expected ${F20 * 1.01}, got ${F20} (relative difference 9.90e-3; tolerance rtol 1e-9, atol 1e-12)`);
    expect(lines[2]).toMatch(/^ {2}final mu mean\[0\]: expected [-\d.e]+, got [-\d.e]+ \(relative difference [\d.e+-]+; tolerance rtol 1e-9, atol 1e-12\)$/);
    expect(lines.slice(3)).toEqual(['0 passed, 1 failed', '']);

    fs.writeFileSync(path.join(dir, 'specs', 'small.golden.json'), '{ not json');
    const broken = await flowc(['test', 'specs/small.flow'], dir);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe('FAIL specs/small.flow\n0 passed, 1 failed\n');
    expect(broken.stderr).toMatch(/^specs\/small\.golden\.json: error: not a valid golden file: invalid JSON \(.+\); recreate it with: flowc golden specs\/small\.flow\n$/);
  });

  it('test without golden files says how to make one', async () => {
    const dir = tempDir({ 'small.flow': SPEC });
    expect(await flowc(['test'], dir)).toEqual({ code: 1, stdout: '', stderr: 'no golden files found under .; create one with: flowc golden SPEC.flow\n' });
    const named = await flowc(['test', 'small.flow'], dir);
    expect(named).toEqual({ code: 1, stdout: '', stderr: 'small.flow: error: no golden file small.golden.json; create it with: flowc golden small.flow\n' });
  });
});

describe.concurrent('version and usage errors', () => {
  const dir = tempDir({ 'small.flow': SPEC });
  const version = (JSON.parse(fs.readFileSync(path.join(BIN, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

  it('--version and -v print the package version', async () => {
    expect(await flowc(['--version'], dir)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(await flowc(['-v'], dir)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  const usage: [string, string[], string][] = [
    ['an unknown command', ['frobnicate'], "error: unknown command 'frobnicate'"],
    ['an unknown option', ['run', 'small.flow', '--bogus'], "error: unknown option '--bogus'"],
    ['a missing argument', ['run'], "error: missing required argument 'spec'"],
    ['a bad --steps', ['run', 'small.flow', '--steps', '-1'], "error: option '--steps <n>' argument '-1' is invalid. expected a whole number ≥ 0, got '-1'"],
    ['a --set without =', ['check', 'small.flow', '--set', 'sigma'], "error: option '--set <NAME=VALUE>' argument 'sigma' is invalid. expected NAME=VALUE, got 'sigma'"],
  ];
  for (const [what, args, message] of usage)
    it(`${what} is a usage error (exit 2)`, async () => {
      expect(await flowc(args, dir)).toEqual({ code: 2, stdout: '', stderr: `${message}\n(run 'flowc --help' for usage)\n` });
    });

  it('no command prints the usage (exit 2)', async () => {
    const r = await flowc([], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: flowc \[options\] \[command\]/);
    for (const cmd of ['run', 'check', 'compile', 'golden', 'test']) expect(r.stderr).toContain(`\n  ${cmd} `);
  });

  it('an unknown backend is a usage error that lists the backends (gpu modes: test/gpu-parity.test.ts)', async () => {
    const r = await flowc(['run', 'small.flow', '--backend', 'tpu'], dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("expected cpu, cpu:js, gpu or gpu:MODE with MODE one of auto, webgpu, headlessgl, webasm, cpu; got 'tpu'");
  });
});

describe('a reader that stops early (flowc ... | head)', () => {
  /** Spawn flowc and close its stdout after the first chunk, as `head -1` does. */
  const closedEarly = (args: string[], cwd: string) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
    });

  it('drops the rest of stdout without a stack trace, and a run still writes its folder', async () => {
    const dir = tempDir();
    const spec = path.join(path.dirname(BIN), '..', 'specs', 'mmd-three-modes.flow');
    expect(await closedEarly(['compile', spec, '--emit', 'wasm'], dir)).toEqual({ code: 0, signal: null, stderr: '' });
    expect(await closedEarly(['run', spec, '--steps', '40', '--out', 'o'], dir)).toEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'o', 'run.json'), 'utf8')).status).toBe('ok');
    expect(fs.readdirSync(path.join(dir, 'o')).sort()).toEqual(['mu.npy', 'nu.input.npy', 'run.json', 'trace.csv']);
  });
});
