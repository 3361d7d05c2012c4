// The default cpu backend (WebAssembly SIMD, src/runtime/backend-wasm.ts)
// against the generated JavaScript (cpu:js, the float64 reference): the same
// results to rounding in float64, the same bits on any thread count, float32
// within the derived tolerance (docs/decisions.md, "The float32 tolerance":
// STEPS × 32u), and run.json / the summary saying which kernels ran.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFile, type FlowRun } from '../src/api.js';
import { compile } from '../src/compiler/compile.js';
import { CpuBackend } from '../src/runtime/backend-cpu.js';
import { WasmCpuBackend } from '../src/runtime/backend-wasm.js';
import { assemble } from '../src/runtime/wasm-assemble.js';
import { F32, F64, generateWasmModule, wasmStages, wasmText } from '../src/compiler/codegen-wasm.js';
import { reuseLocals } from '../src/compiler/wasm-locals.js';
import { loadMeasures } from '../src/runtime/inputs.js';
import { flowc, ROOT, tempDir } from './helpers.js';

const STEPS = 20;
const U = 2 ** -24;
const TOL32 = STEPS * 32 * U;
const SPECS = ['mmd-three-modes', 'mmd-stall-noise', 'mmd-wfr-unbalanced', 'mmd-dab-particles', 'relu-teacher', 'potential-interaction', 'jko-stiff-potential', 'kwng-euclid'].map((s) => path.join(ROOT, 'specs', `${s}.flow`));

/** max |a - b| / max |b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < b.length; k++) {
    num = Math.max(num, Math.abs(a[k] - b[k]));
    den = Math.max(den, Math.abs(b[k]));
  }
  return den > 0 ? num / den : num;
}

const column = (r: FlowRun, c: number) => r.result.trace.rows.map((row) => row[c]);
const same = (a: FlowRun, b: FlowRun) => {
  expect(b.result.trace.rows).toEqual(a.result.trace.rows);
  expect(Array.from(b.result.positions)).toEqual(Array.from(a.result.positions));
};

type Compiled = NonNullable<ReturnType<typeof compile>['compiled']>;
const particlesOf = (c: Compiled) => loadMeasures(c.ir).measures.find((m) => m.name === c.ir.particles)!.data;

/** The particles' velocity at the start from cpu:js, the float64 reference. */
function jsVelocity(c: Compiled): Float64Array {
  const { measures } = loadMeasures(c.ir);
  const x = particlesOf(c);
  const js = new CpuBackend(c, measures, x.slice());
  js.setup();
  const v = new Float64Array(x.length);
  js.velocity(v);
  return v;
}

/** The same from the WebAssembly backend; `check` looks at the backend before it is disposed. */
async function wasmVelocity(c: Compiled, options: Parameters<typeof WasmCpuBackend.open>[3], check?: (w: WasmCpuBackend) => void): Promise<Float64Array> {
  const { measures } = loadMeasures(c.ir);
  const x = particlesOf(c);
  const w = await WasmCpuBackend.open(c, measures, x.slice(), options);
  try {
    await w.setup();
    const v = new Float64Array(x.length);
    await w.velocity(v);
    check?.(w);
    return v;
  } finally {
    await w.dispose();
  }
}

describe.each(SPECS)('the wasm cpu backend on %s', (spec) => {
  it('matches cpu:js in float64, bit for bit on 1, 2 and 3 threads, and within the float32 tolerance in float32', async () => {
    const js = await runFile(spec, { steps: STEPS, threads: 1, kernels: 'js' });
    const one = await runFile(spec, { steps: STEPS, threads: 1 });
    expect(one.backend).toMatchObject({ name: 'cpu', precision: 'float64', kernels: 'wasm simd128 f64x2' });
    expect(js.backend).toMatchObject({ name: 'cpu:js', kernels: 'js' });
    for (let c = 2; c < js.result.trace.columns.length; c++) expect(relErr(column(one, c), column(js, c)), js.result.trace.columns[c]).toBeLessThanOrEqual(1e-9);
    expect(relErr(one.result.positions, js.result.positions)).toBeLessThanOrEqual(1e-12);
    for (const threads of [2, 3]) same(one, await runFile(spec, { steps: STEPS, threads }));
    const f32 = await runFile(spec, { steps: STEPS, threads: 2, precision: 'float32' });
    expect(f32.backend).toMatchObject({ precision: 'float32', kernels: 'wasm simd128 f32x4' });
    // iteration counts (inner) are not float32 approximations of the float64 ones; jko's inner
    // iterations stop at a float32 tolerance, so its trajectory is compared through positions only
    const counts = new Set(js.compiled.ir.record.items.flatMap((it) => (it.kind === 'inner' ? [it.column] : [])));
    if (!spec.includes('jko')) for (let c = 2; c < js.result.trace.columns.length; c++) if (!counts.has(js.result.trace.columns[c])) expect(relErr(column(f32, c), column(js, c)), js.result.trace.columns[c]).toBeLessThanOrEqual(TOL32);
    expect(relErr(f32.result.positions, js.result.positions)).toBeLessThanOrEqual(spec.includes('jko') ? 1e-3 : TOL32);
  });
});

describe('a stage that keeps a nested expectation', () => {
  it('runs its nested loop unvectorised, says so, and matches cpu:js', async () => {
    // the body is a sum, not a product: the Fubini rewrite leaves the (mu, mu, data) nesting in place
    const source = `flow nested
seed 4
particles mu in R^2: 37 ~ normal(0, 1)
sample data in R^2: 23 ~ normal(1, 1)
energy F = E[u ~ mu, v ~ mu] E[x ~ data] (tanh(dot(u, x)) * tanh(dot(v, x)) + |u - x|^2 * |v|^2) / 10
scheme euler(step = 0.1, steps = 1)
`;
    const c = compile(source, { file: path.join(ROOT, 'nested.flow') }).compiled!;
    const vj = jsVelocity(c);
    for (const threads of [1, 2]) {
      const vw = await wasmVelocity(c, { threads, precision: 'float64' }, (w) => expect(String(w.describe().scalar_nested_loops)).toMatch(/^\d+ stages? keeps? a nested expectation/));
      expect(relErr(vw, vj)).toBeLessThanOrEqual(1e-12);
    }
  });
});

describe('split reductions (one loop for the shared weights of a block, then the sums a group of buffers at a time)', () => {
  // d = 5: five buffers per reduction share the Gaussian weight, so the reductions are split;
  // 1030 particles and 517 targets: several blocks of 256 points, a last partial block, a
  // left-over vector and a partial one; mmd2u skips the pair of a particle with itself
  const spec = (energy: string, d = 5) => `flow split
seed 9
let sigma = 0.8
particles mu in R^${d}: 1030 ~ normal(0, 1)
sample nu in R^${d}: 517 ~ normal(0.5, 1)
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = ${energy}
scheme euler(step = 0.5, steps = 1)
`;
  it.each(['1/2 * mmd2(mu, nu; k)', '1/2 * mmd2u(mu, nu; k)'])('%s: the same bits as one loop, on 1 and 3 threads, in both precisions, and cpu:js to rounding', async (energy) => {
    const c = compile(spec(energy), { file: path.join(ROOT, 'split.flow') }).compiled!;
    expect(wasmText(c.plan, c.layout, F64)).toContain('(v128.store offset=');
    for (const precision of ['float64', 'float32'] as const) {
      const one = await wasmVelocity(c, { threads: 1, precision, split: false });
      for (const threads of [1, 3]) expect(Array.from(await wasmVelocity(c, { threads, precision }))).toEqual(Array.from(one));
      if (precision === 'float64') expect(relErr(one, jsVelocity(c))).toBeLessThanOrEqual(1e-12);
    }
  });

  it('a reduction with two buffers (d = 2) stays one loop', () => {
    const c = compile(spec('1/2 * mmd2(mu, nu; k)', 2), { file: path.join(ROOT, 'split.flow') }).compiled!;
    const text = wasmText(c.plan, c.layout, F64);
    expect(text).toContain('scratch: 0 bytes per thread');
    expect(text).not.toContain('v128.store');
  });
});

describe('temporaries sharing locals (wasm-locals.ts)', () => {
  const declared = (wat: string) => (wat.match(/^ {2}\(local \$/gm) ?? []).length;
  const PARTICLE_SPECS = ['mmd-three-modes', 'mmd-stall-noise', 'mmd-wfr-unbalanced', 'mmd-dab-particles', 'relu-teacher', 'potential-interaction', 'log-gas-2d'].map((s) => path.join(ROOT, 'specs', `${s}.flow`));

  it.each(PARTICLE_SPECS)('%s: the same velocity bits with and without sharing, in both precisions, from far fewer locals', async (spec) => {
    const c = compile(fs.readFileSync(spec, 'utf8'), { file: spec }).compiled!;
    const { stages } = wasmStages(c.plan);
    for (const real of [F64, F32]) {
      const [own, shared] = [false, true].map((reuseLocals) => generateWasmModule(stages, c.layout, real, { reuseLocals }));
      expect(declared(shared)).toBeLessThan(declared(own));
      expect(WebAssembly.Module.exports(await assemble(shared))).toHaveLength(stages.length);
    }
    for (const precision of ['float64', 'float32'] as const) {
      const [own, shared] = await Promise.all([false, true].map(async (reuseLocals) => Array.from(await wasmVelocity(c, { threads: 1, precision, reuseLocals }))));
      expect(shared).toEqual(own);
    }
  });

  it('½MMD² in R^800 (about 56,000 temporaries in a stage, over V8\'s 50,000 locals) runs on the default backend and matches cpu:js', async () => {
    const dir = tempDir({
      'big.flow': `flow big
seed 3
particles mu in R^800: 12 ~ normal(0, 1)
sample nu in R^800: 10 ~ normal(0.2, 1)
kernel k(x, y) = exp(-|x - y|^2 / 1600)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 2)
record every 1: F
`,
    });
    const spec = path.join(dir, 'big.flow');
    const wasm = await runFile(spec, { threads: 1 });
    const js = await runFile(spec, { threads: 1, kernels: 'js' });
    expect(wasm.backend).toMatchObject({ kernels: 'wasm simd128 f64x2' });
    expect(relErr(wasm.result.positions, js.result.positions)).toBeLessThanOrEqual(1e-12);
    expect(relErr(column(wasm, 2), column(js, 2))).toBeLessThanOrEqual(1e-12);
  }, 300_000);

  const lines = (text: string) => text.trim().split('\n').map((l) => l.trim());
  const locals = (names: string[]) => new Map(names.map((n) => [n, 'v128']));
  const temp = (l: string) => /^t\d+$/.test(l);

  it('shares a local between temporaries whose lives do not overlap, and keeps the rest', () => {
    const body = lines(`
(local.set $t0 (f64x2.splat (f64.const 1)))
(local.set $t1 (f64x2.add (local.get $t0) (local.get $t0)))
(local.set $t2 (f64x2.mul (local.get $t1) (local.get $t1)))
(local.set $acc (local.get $t2))
(local.set $acc (f64x2.add (local.get $acc) (local.get $acc)))`);
    const out = reuseLocals(body, locals(['t0', 't1', 't2', 'acc']), temp);
    // t0 dies where t1 is set (not the same line: it is read there), so t2 takes t0's local
    expect(body.slice(0, 3)).toEqual(['(local.set $r0 (f64x2.splat (f64.const 1)))', '(local.set $r1 (f64x2.add (local.get $r0) (local.get $r0)))', '(local.set $r0 (f64x2.mul (local.get $r1) (local.get $r1)))']);
    expect([...out.keys()]).toEqual(['acc', 'r0', 'r1']);
  });

  it('keeps a value set before a loop and read in it alive through the whole loop, and one set in a loop and read after it alive across the back edge', () => {
    const body = lines(`
(local.set $t0 (f64x2.splat (f64.const 2)))
(block $e (loop $c
  (local.set $t1 (f64x2.mul (local.get $t0) (local.get $t0)))
  (local.set $t2 (f64x2.add (local.get $t1) (local.get $t1)))
  (local.set $t3 (f64x2.neg (local.get $t2)))
  (local.set $t4 (f64x2.abs (local.get $t3)))
  (br_if $e (i32.const 1))
  (br $c)))
(local.set $t5 (f64x2.add (local.get $t4) (local.get $t4)))`);
    reuseLocals(body, locals(['t0', 't1', 't2', 't3', 't4', 't5']), temp);
    const local = (line: number) => /\(local\.set \$(\w+)/.exec(body[line])![1];
    // t0 is read on every iteration: no temporary of the loop takes its local
    for (const line of [2, 3, 4, 5]) expect(local(line)).not.toBe(local(0));
    // t4 lives from its set through the loop's end and after it: t1 (set at the top of the next iteration) may not share it
    expect(local(2)).not.toBe(local(5));
    expect(local(8)).not.toBe(local(5));
  });

  it('leaves alone a local set twice or read before it is set', () => {
    const body = lines(`
(local.set $t0 (f64x2.splat (f64.const 1)))
(local.set $t0 (f64x2.add (local.get $t0) (local.get $t0)))
(local.set $t1 (f64x2.add (local.get $t2) (local.get $t0)))
(local.set $t2 (f64x2.splat (f64.const 3)))
(local.set $t3 (local.get $t1))`);
    const before = [...body];
    const out = reuseLocals(body, locals(['t0', 't1', 't2', 't3']), temp);
    expect(body.slice(0, 4)).toEqual(before.slice(0, 4).map((l) => l.replaceAll('$t1', '$r0')));
    expect(out.has('t0') && out.has('t2')).toBe(true);
  });
});

describe('flowc compile --emit wasm', () => {
  it('prints the module the cpu backend assembles, each stage labelled, in float64 or float32', async () => {
    const spec = path.join(ROOT, 'specs', 'mmd-three-modes.flow');
    const [a, b] = [flowc(['compile', spec, '--emit', 'wasm']), flowc(['compile', spec, '--emit', 'wasm-f32'])];
    expect([a.code, a.stderr]).toEqual([0, '']);
    expect(a.stdout).toMatch(/^;; flowc: the cpu backend's WebAssembly module \(float64, f64x2\)/);
    const c = compile(fs.readFileSync(spec, 'utf8'), { file: spec }).compiled!;
    const stages = c.plan.setup.length + Object.values(c.plan.programs).reduce((n, p) => n + p.stages.length, 0);
    expect(a.stdout.match(/^;; ---- (setup|\w+) stage \d+: s\d+$/gm)).toHaveLength(stages);
    expect(a.stdout).toContain('f64x2.');
    const exports = WebAssembly.Module.exports(await assemble(a.stdout)).map((e) => e.name);
    expect(exports).toEqual(Array.from({ length: stages }, (_, k) => `s${k}`));
    expect([b.code, b.stderr]).toEqual([0, '']);
    expect(b.stdout).toContain('(float32, f32x4)');
    expect(b.stdout).toContain('f32x4.');
    expect(WebAssembly.Module.exports(await assemble(b.stdout))).toHaveLength(stages);
  });
});

describe('flowc run --backend / --precision', () => {
  it('says which kernels ran, in the summary and in run.json', async () => {
    const dir = tempDir();
    const spec = path.join(ROOT, 'specs', 'mmd-three-modes.flow');
    const [a, b] = await Promise.all([
      flowc(['run', spec, '--steps', '2', '--threads', '1', '--precision', 'float32', '--out', path.join(dir, 'a')]),
      flowc(['run', spec, '--steps', '2', '--threads', '1', '--backend', 'cpu:js', '--out', path.join(dir, 'b')]),
    ]);
    expect([a.code, a.stderr]).toEqual([0, '']);
    expect(a.stdout).toMatch(/backend +cpu \(float32, 1 thread, wasm simd128 f32x4\)/);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'a', 'run.json'), 'utf8')).backend).toMatchObject({ name: 'cpu', precision: 'float32', kernels: 'wasm simd128 f32x4' });
    expect([b.code, b.stderr]).toEqual([0, '']);
    expect(b.stdout).toMatch(/backend +cpu:js \(float64, 1 thread, js\)/);
    const bad = flowc(['run', spec, '--backend', 'cpu:js', '--precision', 'float32', '--out', path.join(dir, 'c')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--precision float32 needs the WebAssembly cpu backend');
  });
});
