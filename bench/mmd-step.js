// Benchmark: one W2 explicit-Euler step of the ½MMD² flow (Gaussian kernel,
// sigma = 1, step 1) on flowc's cpu backend, beside hand-written JavaScript
// computing the same step, in the same process. See bench/README.md.
//
//   npm run bench            (builds dist/, then runs this file)
//   node bench/mmd-step.js   (dist/ already built)
//
// stdout: one JSON document; progress goes to stderr.

import os from 'node:os';
import { compile } from '../dist/src/compiler/compile.js';
import { CpuBackend } from '../dist/src/runtime/backend-cpu.js';
import { loadMeasures } from '../dist/src/runtime/inputs.js';
import { simulate } from '../dist/src/runtime/simulate.js';
import { mmdStepSpec } from './mmd-spec.js';

const SIGMA = 1; // the hand-written steppers must match mmd-spec.js (sigma 1, step 1)
const GAMMA = 1;
const TARGET_RATIO = 1.3;
// [N (= M), d, warm-up steps, timed steps]; every implementation takes all of them
const CONFIGS = [
  [1024, 2, 3, 15],
  [1024, 16, 3, 11],
  [4096, 2, 2, 7],
  [4096, 16, 2, 5],
];

const log = (s) => process.stderr.write(s + '\n');

function compileOrDie(N, d, steps) {
  const r = compile(mmdStepSpec('mmd_step_bench', N, d), { file: 'bench/mmd-step.flow', steps });
  const errors = r.diagnostics.filter((x) => x.severity === 'error');
  if (!r.compiled || errors.length) {
    log(`flowc failed to compile the bench spec:\n${JSON.stringify(r.diagnostics, null, 2)}`);
    process.exit(1);
  }
  return r.compiled;
}

// ---- flowc: the velocity program on the cpu backend + the Euler update, as src/runtime/simulate.ts does it

function flowcStepper(compiled, measures, positions) {
  const backend = new CpuBackend(compiled, measures, positions);
  backend.setup();
  const nIndex = compiled.layout.param.get('n:0');
  const tIndex = compiled.layout.param.get('t:0');
  const gamma = compiled.ir.scheme.step;
  const velocity = new Float64Array(positions.length);
  let n = 0;
  return () => {
    backend.params[nIndex] = n;
    backend.params[tIndex] = n * gamma;
    backend.velocity(velocity);
    for (let k = 0; k < positions.length; k++) positions[k] += gamma * velocity[k];
    for (let k = 0; k < positions.length; k++) if (!Number.isFinite(positions[k])) throw new Error(`flowc: non-finite position at step ${n + 1}`);
    n++;
  };
}

// ---- hand-written: a plain float64 loop over d (d is a run-time number)
//   v(x_i) = (1/σ²) [ 1/N Σ_j k(x_i, x_j)(x_i - x_j) - 1/M Σ_m k(x_i, y_m)(x_i - y_m) ],  x_i += γ v(x_i)

function handwrittenStepper(x, y, N, M, d, gamma, sigma) {
  const v = new Float64Array(N * d);
  const acc1 = new Float64Array(d);
  const acc2 = new Float64Array(d);
  const inv2s2 = 1 / (2 * sigma * sigma);
  const invs2 = 1 / (sigma * sigma);
  return () => {
    for (let i = 0; i < N; i++) {
      const io = i * d;
      acc1.fill(0);
      acc2.fill(0);
      for (let j = 0; j < N; j++) {
        const jo = j * d;
        let r2 = 0;
        for (let k = 0; k < d; k++) {
          const t = x[io + k] - x[jo + k];
          r2 += t * t;
        }
        const w = Math.exp(-r2 * inv2s2);
        for (let k = 0; k < d; k++) acc1[k] += w * (x[io + k] - x[jo + k]);
      }
      for (let m = 0; m < M; m++) {
        const mo = m * d;
        let r2 = 0;
        for (let k = 0; k < d; k++) {
          const t = x[io + k] - y[mo + k];
          r2 += t * t;
        }
        const w = Math.exp(-r2 * inv2s2);
        for (let k = 0; k < d; k++) acc2[k] += w * (x[io + k] - y[mo + k]);
      }
      for (let k = 0; k < d; k++) v[io + k] = (acc1[k] / N - acc2[k] / M) * invs2;
    }
    for (let q = 0; q < N * d; q++) x[q] += gamma * v[q];
  };
}

// ---- hand-written, specialised to d: the same loop with the coordinates unrolled by `new Function`

function specialisedStepper(x, y, N, M, d, gamma, sigma) {
  const c = [...Array(d).keys()];
  const src = `
"use strict";
const v = new Float64Array(N * ${d});
const inv2s2 = 1 / (2 * sigma * sigma), invs2 = 1 / (sigma * sigma);
return function step() {
  for (let i = 0; i < N; i++) {
    const io = i * ${d};
    ${c.map((k) => `const x${k} = x[io + ${k}];`).join(' ')}
    ${c.map((k) => `let a${k} = 0, b${k} = 0;`).join(' ')}
    for (let j = 0; j < N; j++) {
      const jo = j * ${d};
      ${c.map((k) => `const e${k} = x${k} - x[jo + ${k}];`).join(' ')}
      const w = Math.exp(-(${c.map((k) => `e${k} * e${k}`).join(' + ')}) * inv2s2);
      ${c.map((k) => `a${k} += w * e${k};`).join(' ')}
    }
    for (let m = 0; m < M; m++) {
      const mo = m * ${d};
      ${c.map((k) => `const e${k} = x${k} - y[mo + ${k}];`).join(' ')}
      const w = Math.exp(-(${c.map((k) => `e${k} * e${k}`).join(' + ')}) * inv2s2);
      ${c.map((k) => `b${k} += w * e${k};`).join(' ')}
    }
    ${c.map((k) => `v[io + ${k}] = (a${k} / N - b${k} / M) * invs2;`).join('\n    ')}
  }
  for (let q = 0; q < N * ${d}; q++) x[q] += gamma * v[q];
};`;
  return new Function('x', 'y', 'N', 'M', 'gamma', 'sigma', src)(x, y, N, M, gamma, sigma);
}

// ---- helpers

const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

/** max_k |a_k - b_k| / max_k |b_k| (relative, max-norm) */
function maxRelDiff(a, b) {
  let num = 0;
  let den = 0;
  for (let k = 0; k < a.length; k++) {
    num = Math.max(num, Math.abs(a[k] - b[k]));
    den = Math.max(den, Math.abs(b[k]));
  }
  return den > 0 ? num / den : num;
}

const round = (v, digits) => Number(v.toFixed(digits));

// ---- the run

const t0 = performance.now();
const load0 = os.loadavg();
const results = [];
for (const [N, d, warm, timed] of CONFIGS) {
  const steps = warm + timed;
  const compiled = compileOrDie(N, d, steps);
  const { measures } = loadMeasures(compiled.ir);
  const mu = measures.find((m) => m.name === compiled.ir.particles);
  const nu = measures.find((m) => m.name !== compiled.ir.particles);

  const xFlowc = mu.data.slice();
  const xHand = mu.data.slice();
  const xSpec = mu.data.slice();
  const impls = [
    { name: 'flowc', x: xFlowc, step: flowcStepper(compiled, measures, xFlowc), times: [], cpu: [] },
    { name: 'handwritten', x: xHand, step: handwrittenStepper(xHand, nu.data, N, nu.size, d, GAMMA, SIGMA), times: [], cpu: [] },
    { name: 'handwritten_specialised', x: xSpec, step: specialisedStepper(xSpec, nu.data, N, nu.size, d, GAMMA, SIGMA), times: [], cpu: [] },
  ];

  // interleaved, so that a change in machine load hits every implementation alike
  for (let s = 0; s < steps; s++) {
    for (const impl of impls) {
      const c = process.cpuUsage();
      const a = performance.now();
      impl.step();
      impl.times.push(performance.now() - a);
      const u = process.cpuUsage(c);
      impl.cpu.push((u.user + u.system) / 1000);
    }
    log(`N=${N} d=${d} step ${s + 1}/${steps}${s < warm ? ' (warm-up)' : ''}: ${impls.map((i) => `${i.name} ${i.times.at(-1).toFixed(1)}`).join(', ')} ms`);
  }

  // the bench's flowc loop must be simulate()'s loop: same positions, bit for bit (checked where it is cheap)
  let simulateCheck = null;
  if (N <= 1024) {
    const xSim = mu.data.slice();
    const backend = new CpuBackend(compiled, measures, xSim);
    const run = await simulate(compiled, measures, xSim, backend);
    simulateCheck = run.steps === steps && maxRelDiff(run.positions, xFlowc) === 0;
    if (!simulateCheck) log(`N=${N} d=${d}: WARNING the bench's flowc loop differs from simulate()`);
  }

  const timedOf = (i) => i.times.slice(warm);
  const cpuOf = (i) => i.cpu.slice(warm);
  const [f, h, sp] = impls.map((i) => median(timedOf(i)));
  const [cf, ch, csp] = impls.map((i) => median(cpuOf(i)));
  // per-round ratios: the implementations ran back to back, so a drift in machine load cancels out
  const paired = (a, b) => median(timedOf(a).map((t, k) => t / timedOf(b)[k]));
  const r = {
    N,
    d,
    flowc_ms_per_step: round(f, 2),
    handwritten_ms_per_step: round(h, 2),
    ratio: round(f / h, 3),
    max_rel_diff: maxRelDiff(xFlowc, xHand),
    ratio_paired: round(paired(impls[0], impls[1]), 3),
    // process CPU time (user + system), less disturbed than wall time by other processes on a busy machine
    flowc_cpu_ms_per_step: round(cf, 2),
    handwritten_cpu_ms_per_step: round(ch, 2),
    ratio_cpu: round(cf / ch, 3),
    handwritten_specialised_ms_per_step: round(sp, 2),
    handwritten_specialised_cpu_ms_per_step: round(csp, 2),
    ratio_vs_specialised: round(f / sp, 3),
    ratio_vs_specialised_paired: round(paired(impls[0], impls[2]), 3),
    ratio_vs_specialised_cpu: round(cf / csp, 3),
    max_rel_diff_specialised: maxRelDiff(xFlowc, xSpec),
    warmup_steps: warm,
    timed_steps: timed,
    flowc_loop_equals_simulate: simulateCheck,
  };
  log(`N=${N} d=${d}: ${JSON.stringify(r)}`);
  results.push(r);
}

const out = {
  benchmark: '1/2 MMD^2 W2 explicit Euler step, Gaussian kernel sigma = 1, step 1, N = M, float64, median ms per step',
  machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadavg_at_start: load0.map((l) => round(l, 2)) },
  results,
  target_ratio: TARGET_RATIO,
  meets_target: results.every((r) => r.ratio <= TARGET_RATIO),
  total_s: round((performance.now() - t0) / 1000, 1),
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
