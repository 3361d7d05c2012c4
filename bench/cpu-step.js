// Benchmark: the ½MMD² W2 Euler step (Gaussian kernel, sigma = 1, step 1,
// bench/mmd-spec.js) for N = M ∈ {1024, 4096, 16384, 65536}, d ∈ {2, 16} on
// the cpu backend's WebAssembly SIMD kernels (float64 and float32, 1 thread
// and every core), on cpu:js (generated JavaScript, every core), on the best
// gpu.js mode here, beside the C speed limit ../shared/peers/limit.c (built
// with gcc -O3 -march=native -fopenmp, float64 and float32, same thread
// counts) and the dense PyTorch peer when Debian's python3-torch is
// installed; then the two-layer ReLU spec (specs/relu-teacher.flow's energy)
// scaled to 100 neurons × 1000 data points on cpu:js and on cpu. Every
// configuration runs in its own child process and reports the median wall
// time and the median process CPU time (every thread) of its timed steps.
// See bench/README.md.
//
//   npm run build && node bench/cpu-step.js
//   node bench/cpu-step.js --sizes 16384 --dims 2 --configs wasm-f64-all,C-f64-all
//
// stdout: one JSON document; progress goes to stderr.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mmdStepSpec } from './mmd-spec.js';

const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), '..');
const option = (name, all) => {
  const k = process.argv.indexOf(name);
  return k < 0 ? all : process.argv[k + 1].split(',');
};
const SIZES = option('--sizes', [1024, 4096, 16384, 65536]).map(Number);
const DIMS = option('--dims', [2, 16]).map(Number);
const ONLY = option('--configs', null);
/** a configuration whose step is predicted (its time at the previous N × (N/N')²) to exceed this is skipped */
const MAX_STEP_S = Number(option('--max-step-s', ['60'])[0]);
/** timed steps: at least 1, at most 3, while under this many seconds */
const BUDGET_MS = 8000;
const CORES = os.availableParallelism();
// the peers' folder and the Python that has torch (FLOWC_PEERS, FLOWC_PYTHON to run elsewhere)
const PEERS = process.env.FLOWC_PEERS ?? path.resolve(ROOT, '..', 'shared', 'peers');
const PYTHON = process.env.FLOWC_PYTHON ?? '/usr/bin/python3';
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
const log = (s) => process.stderr.write(s + '\n');
const round = (x) => Math.round(x * 10) / 10;

const RELU = (kind) => `flow relu_bench
let lambda = 0.001
particles mu in (w: R, theta: R^2): 100 ~ (w: normal(0, 0.1), theta: normal(0, 1))
sample teacher in (w: R, theta: R^2): 5 ~ (w: normal(0, 1), theta: normal(0, 1))
sample data in R^2: 1000 ~ normal(0, 1)
fn phi(u, x) = u.w * relu(dot(u.theta, x))
fn target(x) = E[v ~ teacher] phi(v, x)
energy F = ${kind === 'pair' ? '1/2 * E[u ~ mu, v ~ mu] E[x ~ data] phi(u, x) * phi(v, x) - E[u ~ mu] E[x ~ data] phi(u, x) * target(x) + 1/2 * E[x ~ data] target(x)^2' : '1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - target(x))^2'}
         + lambda * E[u ~ mu] |u.w| * |u.theta|
metric W2
scheme euler(step = 0.1, steps = 1)
`;

// ------------------------------------------------------------ child: one configuration

async function child(config, N, d) {
  const { compile } = await import('../dist/src/compiler/compile.js');
  const { loadMeasures } = await import('../dist/src/runtime/inputs.js');
  const relu = config.startsWith('relu');
  const PARALLEL_MIN = (await import('../dist/src/runtime/backend-cpu-parallel.js')).PARALLEL_MIN_PARTICLES;
  const source = relu ? RELU(config.endsWith('-pair') ? 'pair' : 'regression') : mmdStepSpec('cpu_step_bench', N, d);
  const r = compile(source, { file: path.join(os.tmpdir(), 'cpu-step.flow') });
  if (!r.compiled) throw new Error(JSON.stringify(r.diagnostics));
  const compiled = r.compiled;
  const { measures } = loadMeasures(compiled.ir);
  const particles = measures.find((m) => m.name === compiled.ir.particles);
  let positions = particles.data.slice();
  const kind = relu ? config.split('-')[1] : config; // relu-js-..., relu-wasm-...
  let backend;
  if (kind.startsWith('wasm')) {
    const { WasmCpuBackend } = await import('../dist/src/runtime/backend-wasm.js');
    // the ReLU network runs as a user gets it: the default thread count for its 100 particles (one)
    const [, prec, threads] = relu ? ['', 'f64', particles.size >= PARALLEL_MIN ? 'all' : '1'] : config.split('-');
    backend = await WasmCpuBackend.open(compiled, measures, positions, { threads: threads === 'all' ? CORES : 1, precision: prec === 'f32' ? 'float32' : 'float64' });
  } else if (kind.startsWith('js')) {
    const all = relu ? particles.size >= PARALLEL_MIN : config.endsWith('-all');
    if (all && CORES > 1) {
      const { ParallelCpuBackend, sharedCopy } = await import('../dist/src/runtime/backend-cpu-parallel.js');
      positions = sharedCopy(particles.data);
      backend = new ParallelCpuBackend(compiled, measures, positions, CORES);
    } else {
      const { CpuBackend } = await import('../dist/src/runtime/backend-cpu.js');
      backend = new CpuBackend(compiled, measures, positions);
    }
  } else {
    const { openGpuBackend } = await import('../dist/src/runtime/gpu/select.js');
    backend = await openGpuBackend(compiled, measures, positions, config.slice('gpu:'.length));
  }
  await backend.setup();
  const v = new Float64Array(positions.length);
  const gamma = compiled.ir.scheme.step;
  const step = async () => {
    const c = process.cpuUsage();
    const t0 = performance.now();
    await backend.velocity(v);
    for (let k = 0; k < positions.length; k++) positions[k] += gamma * v[k];
    if (!positions.every(Number.isFinite)) throw new Error('non-finite positions');
    const u = process.cpuUsage(c);
    return [performance.now() - t0, (u.user + u.system) / 1000];
  };
  const first = await step();
  const times = [];
  const t0 = performance.now();
  const most = relu ? 200 : 3;
  while (times.length < 1 || (times.length < most && performance.now() - t0 < BUDGET_MS)) times.push(await step());
  await backend.dispose?.();
  const med = (k) => times.map((t) => t[k]).sort((a, b) => a - b)[Math.floor(times.length / 2)];
  process.stdout.write(JSON.stringify({ first_step_ms: round(first[0]), ms_per_step: round(med(0)), cpu_ms_per_step: round(med(1)), timed_steps: times.length, backend: backend.describe?.() }) + '\n');
  process.exit(0);
}

// ------------------------------------------------------------ parent

function runChild(config, N, d) {
  const r = spawnSync(process.execPath, [HERE, '--child', config, String(N), String(d)], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 20 * 60_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line) return { ok: true, ...JSON.parse(line) };
  return { ok: false, error: `exit ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
}

/** limit.c built with gcc for float64 and float32, or why not. */
function buildC() {
  const src = path.join(PEERS, 'limit.c');
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.status !== 0) return { why: 'gcc is absent: the C speed limit was not built (Debian: apt-get install build-essential)' };
  if (!fs.existsSync(src)) return { why: `${src} not found` };
  const bins = {};
  for (const [name, real] of [['f64', 'double'], ['f32', 'float']]) {
    const out = path.join(os.tmpdir(), `flowc-limit-${name}-${process.pid}`);
    execFileSync('gcc', ['-O3', '-march=native', '-ffast-math', '-fopenmp', `-DREAL=${real}`, src, '-o', out, '-lm']);
    bins[name] = out;
  }
  return { gcc: gcc.stdout.split('\n')[0], flags: '-O3 -march=native -ffast-math -fopenmp', bins };
}

function runC(bin, N, d, threads) {
  const r = spawnSync(bin, [String(N), String(d), '3'], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) }, timeout: 20 * 60_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) return { ok: false, error: `exit ${r.status ?? r.signal}` };
  const j = JSON.parse(line);
  return { ok: true, ms_per_step: j.ms_per_step, cpu_ms_per_step: j.cpu_ms_per_step, first_step_ms: j.first_step_ms, threads: j.threads };
}

function gpuBest() {
  const src = `import { probeMode, GPU_MODES } from './dist/src/runtime/gpu/modes.js';
    const ps = await Promise.all(GPU_MODES.map(probeMode));
    process.stdout.write(JSON.stringify(ps.map(({ mode, available }) => ({ mode, available }))));
    process.exit(0);`;
  try {
    const modes = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', src], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    // the fastest mode measured here (bench/gpu-step.js): webgpu, then headlessgl, then the cpu modes
    for (const m of ['webgpu', 'headlessgl', 'cpu']) if (modes.find((x) => x.mode === m && x.available)) return `gpu:${m}`;
  } catch {
    /* no gpu mode */
  }
  return undefined;
}

function torchPeer() {
  const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return { ran: false, why: `skipped: ${PYTHON} cannot import torch (Debian: apt-get install python3-torch libjemalloc2)` };
  const out = path.join(os.tmpdir(), `flowc-torch-${process.pid}.json`);
  const Ns = SIZES.filter((n) => n <= 16384);
  const alloc = fs.existsSync(JEMALLOC) ? 'jemalloc' : 'glibc';
  log(`torch ${probe.stdout.trim()}: N ${Ns.join(', ')}, d ${DIMS.join(', ')}, float32, ${CORES} threads (${alloc})`);
  const r = spawnSync(PYTHON, [path.join(PEERS, 'mmd_step_torch.py'), '--Ns', Ns.join(','), '--ds', DIMS.join(','), '--dtypes', 'float32', '--impls', 'closed', '--steps', '3', '--threads', String(CORES), '--alloc', alloc, '--out', out], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !fs.existsSync(out)) return { ran: false, why: `the peer failed (exit ${r.status})` };
  const results = JSON.parse(fs.readFileSync(out, 'utf8')).results;
  fs.rmSync(out);
  // the peer times wall clock only: its worker once more per configuration with time.perf_counter
  // replaced by time.process_time (this process's CPU time, every thread) gives its CPU time per step
  const env = { ...process.env, ...(alloc === 'jemalloc' ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'dirty_decay_ms:-1,muzzy_decay_ms:-1' } : {}) };
  const peer = path.join(PEERS, 'mmd_step_torch.py');
  const cpuMs = (N, d) => {
    log(`torch CPU time: N ${N}, d ${d}`);
    const code = `import runpy, sys, time\ntime.perf_counter = time.process_time\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')`;
    const w = spawnSync(PYTHON, ['-c', code, peer, '--worker', String(N), String(d), 'float32', 'closed', '3', String(CORES)], { encoding: 'utf8', env, timeout: 20 * 60_000 });
    const line = (w.stdout || '').split('\n').find((l) => l.startsWith('{'));
    const j = line ? JSON.parse(line) : undefined;
    return j?.ok ? round(j.step_s_median * 1000) : null;
  };
  return {
    ran: true,
    torch: probe.stdout.trim(),
    threads: CORES,
    alloc,
    cpu_time: 'the peer worker rerun with time.perf_counter = time.process_time',
    results: results.map((x) => ({ N: x.N, d: x.d, ok: x.ok, ms_per_step: x.ok ? round(x.step_s_median * 1000) : null, cpu_ms_per_step: x.ok ? cpuMs(x.N, x.d) : null, error: x.error })),
  };
}

async function parent() {
  const t0 = performance.now();
  const c = buildC();
  const gpu = gpuBest();
  const all = CORES > 1 ? ['all'] : [];
  const configs = [
    ...['f64', 'f32'].flatMap((p) => ['1', ...all].map((t) => `wasm-${p}-${t}`)),
    ...(c.bins ? ['f64', 'f32'].flatMap((p) => ['1', ...all].map((t) => `C-${p}-${t}`)) : []),
    `js-${all.length ? 'all' : '1'}`,
    ...(gpu ? [gpu] : []),
  ].filter((x) => !ONLY || ONLY.includes(x));
  log(`configurations: ${configs.join(', ')}${c.why ? ` (${c.why})` : ''}`);
  const machine = { cpus: CORES, cpu_model: os.cpus()[0]?.model, node: process.version, loadavg_at_start: os.loadavg().map(round) };
  const results = [];
  for (const d of DIMS)
    for (const config of configs) {
      let prev;
      let stopped;
      for (const N of SIZES) {
        if (stopped) {
          results.push({ config, N, d, ok: false, skipped: stopped });
          continue;
        }
        const predicted = prev ? (prev.ms_per_step / 1000) * (N / prev.N) ** 2 : 0;
        if (predicted > MAX_STEP_S) {
          results.push({ config, N, d, ok: false, skipped: `predicted ${Math.round(predicted)} s per step (from N = ${prev.N}) exceeds ${MAX_STEP_S} s` });
          stopped = 'a smaller N was skipped';
          continue;
        }
        log(`${config} N=${N} d=${d}${predicted ? ` (predicted ${predicted.toFixed(1)} s/step)` : ''}`);
        const [, p, th] = config.split('-');
        const r = { config, N, d, ...(config.startsWith('C-') ? runC(c.bins[p], N, d, th === 'all' ? CORES : 1) : runChild(config, N, d)) };
        log(`  ${r.ok ? `${r.ms_per_step} ms/step (cpu ${r.cpu_ms_per_step} ms)` : r.error}`);
        results.push(r);
        if (r.ok) prev = r;
        else stopped = `N = ${N} failed`;
      }
    }
  const relu = [];
  for (const config of ['relu-js', 'relu-wasm', 'relu-js-pair', 'relu-wasm-pair'].filter((x) => !ONLY || ONLY.includes(x) || ONLY.includes('relu'))) {
    log(config);
    const r = { config, ...runChild(config, 0, 0) };
    log(`  ${r.ok ? `${r.ms_per_step} ms/step (cpu ${r.cpu_ms_per_step} ms)` : r.error}`);
    relu.push(r);
  }
  const peer = process.argv.includes('--no-peer') ? { ran: false, why: 'skipped: --no-peer' } : torchPeer();
  const at = (config, N, d) => results.find((r) => r.ok && r.config === config && r.N === N && r.d === d);
  const ratio = (a, b, key = 'ms_per_step') => (a && b ? round((a[key] / b[key]) * 100) / 100 : null);
  const targets = {};
  for (const d of DIMS) {
    const N = 16384;
    const torch = peer.ran ? peer.results.find((r) => r.ok && r.N === N && r.d === d) : undefined;
    targets[`N${N}_d${d}`] = {
      f64_all_over_C_f64_all: { wall: ratio(at('wasm-f64-all', N, d), at('C-f64-all', N, d)), cpu: ratio(at('wasm-f64-all', N, d), at('C-f64-all', N, d), 'cpu_ms_per_step'), target: '≤ 2' },
      f64_1_over_C_f64_1: { wall: ratio(at('wasm-f64-1', N, d), at('C-f64-1', N, d)), cpu: ratio(at('wasm-f64-1', N, d), at('C-f64-1', N, d), 'cpu_ms_per_step'), target: '≤ 2' },
      f32_all_over_C_f32_all: { wall: ratio(at('wasm-f32-all', N, d), at('C-f32-all', N, d)), cpu: ratio(at('wasm-f32-all', N, d), at('C-f32-all', N, d), 'cpu_ms_per_step'), target: '≤ 2.5' },
      f32_1_over_C_f32_1: { wall: ratio(at('wasm-f32-1', N, d), at('C-f32-1', N, d)), cpu: ratio(at('wasm-f32-1', N, d), at('C-f32-1', N, d), 'cpu_ms_per_step'), target: '≤ 2.5' },
      best_cpu_over_torch_f32: torch ? { wall: ratio(at('wasm-f32-all', N, d), torch), cpu: ratio(at('wasm-f32-all', N, d), torch, 'cpu_ms_per_step'), target: d === 2 ? '≤ 0.25' : '≤ 0.5' } : 'torch not run',
    };
  }
  const rj = relu.find((r) => r.ok && r.config === 'relu-js');
  const rw = relu.find((r) => r.ok && r.config === 'relu-wasm');
  targets.relu_100x1000_speedup = rj && rw ? { wall: ratio(rj, rw), cpu: ratio(rj, rw, 'cpu_ms_per_step'), target: '≥ 3' } : 'not measured';
  for (const b of Object.values(c.bins ?? {})) fs.rmSync(b, { force: true });
  process.stdout.write(JSON.stringify({ machine, c: c.bins ? { gcc: c.gcc, flags: c.flags } : { why: c.why }, gpu: gpu ?? 'no gpu.js mode available', max_step_s: MAX_STEP_S, results, relu, torch: peer, targets, total_s: round((performance.now() - t0) / 1000) }, null, 1) + '\n');
}

if (process.argv[2] === '--child') await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else await parent();
