// Benchmark: the cpu backend on 1 thread (CpuBackend) and on 2 threads
// (ParallelCpuBackend), one W2 explicit-Euler step of the ½MMD² flow
// (Gaussian kernel, sigma = 1, step 1, N = M, d = 2), in the same process.
// See bench/README.md.
//
//   npm run bench:threads                 (builds dist/, then runs this file)
//   node bench/cpu-threads.js             (dist/ already built)
//   node bench/cpu-threads.js 256 1024    (other N, e.g. to place PARALLEL_MIN_PARTICLES)
//
// stdout: one JSON document; progress goes to stderr.

import os from 'node:os';
import { compile } from '../dist/src/compiler/compile.js';
import { CpuBackend } from '../dist/src/runtime/backend-cpu.js';
import { ParallelCpuBackend, sharedCopy } from '../dist/src/runtime/backend-cpu-parallel.js';
import { loadMeasures } from '../dist/src/runtime/inputs.js';
import { mmdStepSpec } from './mmd-spec.js';

const D = 2;
const THREADS = 2;
const TARGET = { N: 16384, ratio: 1.7 };
const sizes = process.argv.slice(2).map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
  process.stderr.write('usage: node bench/cpu-threads.js [N ...]   (N whole numbers ≥ 1)\n');
  process.exit(2);
}
/** [warm-up, timed] steps per N: a few seconds at most per thread count */
const plan = (N) => (N >= 16384 ? [1, 4] : N >= 4096 ? [2, 8] : [5, Math.max(10, Math.round(4e7 / (N * N)))]);

const log = (s) => process.stderr.write(s + '\n');

/** The loop body of simulate() (src/runtime/simulate.ts) on a backend: velocity, then x += γ v. */
async function stepper(compiled, backend, positions) {
  await backend.setup();
  const nIndex = compiled.layout.param.get('n:0');
  const tIndex = compiled.layout.param.get('t:0');
  const gamma = compiled.ir.scheme.step;
  const velocity = new Float64Array(positions.length);
  let n = 0;
  return async () => {
    backend.params[nIndex] = n;
    backend.params[tIndex] = n * gamma;
    await backend.velocity(velocity);
    for (let k = 0; k < positions.length; k++) positions[k] += gamma * velocity[k];
    n++;
  };
}

const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const round = (v, digits) => Number(v.toFixed(digits));
const identical = (a, b) => a.length === b.length && a.every((v, k) => Object.is(v, b[k]));

const t0 = performance.now();
const load0 = os.loadavg();
const results = [];
for (const N of sizes.length ? sizes : [4096, 16384]) {
  const [warm, timed] = plan(N);
  const r = compile(mmdStepSpec('cpu_threads_bench', N, D), { file: 'bench/cpu-threads.flow' });
  if (!r.compiled) {
    log(`flowc failed to compile the bench spec:\n${JSON.stringify(r.diagnostics, null, 2)}`);
    process.exit(1);
  }
  const compiled = r.compiled;
  const { measures } = loadMeasures(compiled.ir);
  const mu = measures.find((m) => m.name === compiled.ir.particles);

  // startup: backend construction (workers) and the setup stages, which wait for the workers' first job
  const x1 = mu.data.slice();
  let a = performance.now();
  const one = { x: x1, step: await stepper(compiled, new CpuBackend(compiled, measures, x1), x1), times: [] };
  const startup1 = performance.now() - a;
  const x2 = sharedCopy(mu.data);
  a = performance.now();
  const parallel = new ParallelCpuBackend(compiled, measures, x2, THREADS);
  const two = { x: x2, step: await stepper(compiled, parallel, x2), times: [] };
  const startup2 = performance.now() - a;

  // interleaved, so that a change in machine load hits both alike
  let same = true;
  for (let s = 0; s < warm + timed; s++) {
    for (const impl of [one, two]) {
      a = performance.now();
      await impl.step();
      impl.times.push(performance.now() - a);
    }
    same &&= identical(x1, x2);
    log(`N=${N} step ${s + 1}/${warm + timed}${s < warm ? ' (warm-up)' : ''}: 1 thread ${one.times.at(-1).toFixed(1)} ms, ${THREADS} threads ${two.times.at(-1).toFixed(1)} ms`);
  }
  await parallel.dispose();

  const t1 = median(one.times.slice(warm));
  const t2 = median(two.times.slice(warm));
  const res = {
    N,
    M: N,
    d: D,
    ms_per_step_1_thread: round(t1, 3),
    [`ms_per_step_${THREADS}_threads`]: round(t2, 3),
    ratio: round(t1 / t2, 3),
    // per-round ratios: both ran back to back, so a drift in machine load cancels out
    ratio_paired: round(median(one.times.slice(warm).map((t, k) => t / two.times[warm + k])), 3),
    bit_identical: same,
    startup_ms_1_thread: round(startup1, 1),
    [`startup_ms_${THREADS}_threads`]: round(startup2, 1),
    warmup_steps: warm,
    timed_steps: timed,
  };
  log(`N=${N}: ${JSON.stringify(res)}`);
  results.push(res);
}

const target = results.find((r) => r.N === TARGET.N);
const out = {
  benchmark: `1/2 MMD^2 W2 explicit Euler step, Gaussian kernel sigma = 1, step 1, N = M, d = ${D}, float64; median ms per step on 1 and ${THREADS} threads`,
  machine: { cpus: os.availableParallelism(), cpu_model: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadavg_at_start: load0.map((l) => round(l, 2)) },
  results,
  target: `ratio ≥ ${TARGET.ratio} at N = ${TARGET.N}`,
  meets_target: target ? target.ratio >= TARGET.ratio : null,
  total_s: round((performance.now() - t0) / 1000, 1),
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
