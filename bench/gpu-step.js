// Benchmark: one W2 explicit-Euler step of the ½MMD² flow (Gaussian kernel,
// sigma = 1, step 1, N = M, d ∈ {2, 16}) on the cpu backend (1 thread, and
// every core), on each gpu.js mode that works here, and the dense PyTorch
// peer (../shared/peers/mmd_step_torch.py) when Debian's python3-torch is
// installed. Each configuration runs in its own child process, so that its
// peak memory (the process's RSS high-water mark) is its own. See
// bench/README.md.
//
//   npm run bench:gpu          (builds dist/, then runs this file)
//   node bench/gpu-step.js     (dist/ already built)
//   node bench/gpu-step.js --configs cpu-1,gpu:webgpu --sizes 16384 --dims 2 --no-peer
//
// gpu:webgpu-resident times the same backend's device steps (positions kept
// on the device, read back once every 5 steps, as a run recording every 5
// steps would).
//                              (a subset, e.g. to re-measure on a quiet machine)
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
const CONFIGS = option('--configs', null);
/** a configuration whose step is predicted (from its time at the previous N, × (N/N')²) to exceed this is skipped */
const MAX_STEP_S = 90;
const PEER = path.resolve(ROOT, '..', 'shared', 'peers', 'mmd_step_torch.py');
const PYTHON = '/usr/bin/python3';
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
const log = (s) => process.stderr.write(s + '\n');

// ------------------------------------------------------------ child: one configuration

async function child(config, N, d) {
  const { compile } = await import('../dist/src/compiler/compile.js');
  const { loadMeasures } = await import('../dist/src/runtime/inputs.js');
  const { CpuBackend } = await import('../dist/src/runtime/backend-cpu.js');
  const r = compile(mmdStepSpec('gpu_step_bench', N, d), { file: path.join(os.tmpdir(), 'gpu-step.flow') });
  const compiled = r.compiled;
  const { measures } = loadMeasures(compiled.ir);
  const particles = measures.find((m) => m.name === compiled.ir.particles);
  let backend;
  let positions = particles.data.slice();
  if (config === 'cpu-1') backend = new CpuBackend(compiled, measures, positions);
  else if (config === 'cpu-all') {
    const { ParallelCpuBackend, sharedCopy } = await import('../dist/src/runtime/backend-cpu-parallel.js');
    positions = sharedCopy(particles.data);
    backend = new ParallelCpuBackend(compiled, measures, positions, os.availableParallelism());
  } else {
    // gpu:webgpu-resident: the same backend, timed through its device steps
    // (positions kept on the device, read back once per RESIDENT_BATCH steps)
    const { openGpuBackend } = await import('../dist/src/runtime/gpu/select.js');
    const mode = config.slice('gpu:'.length).replace(/-resident$/, '');
    backend = await openGpuBackend(compiled, measures, positions, mode);
    if (config.endsWith('-resident') && !backend.deviceStep) throw new Error(`no resident steps: ${backend.describe().resident_why_not}`);
  }
  await backend.setup();
  const v = new Float64Array(positions.length);
  const step = async () => {
    const t0 = performance.now();
    await backend.velocity(v);
    for (let k = 0; k < positions.length; k++) positions[k] += v[k];
    if (!positions.every(Number.isFinite)) throw new Error('non-finite positions');
    return performance.now() - t0;
  };
  const resident = config.endsWith('-resident');
  const RESIDENT_BATCH = 5;
  const residentStep = async () => {
    const t0 = performance.now();
    for (let k = 0; k < RESIDENT_BATCH; k++) await backend.deviceStep(1);
    await backend.sync();
    if (!positions.every(Number.isFinite)) throw new Error('non-finite positions');
    return (performance.now() - t0) / RESIDENT_BATCH;
  };
  const first = resident ? await residentStep() : await step();
  const times = [];
  const t0 = performance.now();
  while (times.length < 1 || (times.length < 5 && performance.now() - t0 < 10_000)) times.push(resident ? await residentStep() : await step());
  times.sort((a, b) => a - b);
  await backend.dispose?.();
  const out = {
    first_step_ms: round(first),
    ms_per_step: round(times[Math.floor(times.length / 2)]),
    timed_steps: times.length,
    peak_rss_mib: round(process.resourceUsage().maxRSS / 1024),
    ...(backend.describe ? { backend: pick(backend.describe()) } : {}),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

const round = (x) => Math.round(x * 10) / 10;
const pick = (b) => ({ mode: b.mode, renderer: b.renderer, threads: b.threads });

// ------------------------------------------------------------ parent

function gpuModes() {
  const src = `import { probeMode, GPU_MODES } from './dist/src/runtime/gpu/modes.js';
    const ps = await Promise.all(GPU_MODES.map(probeMode));
    process.stdout.write(JSON.stringify(ps.map(({ mode, available, detail, renderer }) => ({ mode, available, detail, renderer }))));
    process.exit(0);`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', src], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
}

function runChild(config, N, d) {
  const r = spawnSync(process.execPath, [HERE, '--child', config, String(N), String(d)], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 30 * 60_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line) return { ok: true, ...JSON.parse(line) };
  return { ok: false, error: `exit ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').filter((l) => !l.includes('artificially reduced')).slice(-2).join(' | ')}` };
}

function torchPeer() {
  const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return { ran: false, why: `skipped: ${PYTHON} cannot import torch (Debian: apt-get install python3-torch libjemalloc2)` };
  const out = path.join(os.tmpdir(), `flowc-torch-${process.pid}.json`);
  // 65536: one dense float32 N×N matrix is 16 GiB, more than the peer's address-space cap and this machine's memory
  const Ns = SIZES.filter((n) => n <= 16384);
  const alloc = fs.existsSync(JEMALLOC) ? 'jemalloc' : 'glibc';
  log(`torch ${probe.stdout.trim()}: N ${Ns.join(', ')}, d ${DIMS.join(', ')}, float32 (${alloc})`);
  const r = spawnSync(PYTHON, [PEER, '--Ns', Ns.join(','), '--ds', DIMS.join(','), '--dtypes', 'float32', '--impls', 'closed', '--steps', '3', '--alloc', alloc, '--out', out], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0 || !fs.existsSync(out)) return { ran: false, why: `the peer failed (exit ${r.status})` };
  const results = JSON.parse(fs.readFileSync(out, 'utf8')).results;
  fs.rmSync(out);
  return {
    ran: true,
    torch: probe.stdout.trim(),
    alloc,
    not_run: { 65536: 'a dense float32 65536 × 65536 matrix alone is 16 GiB' },
    results: results.map((x) => ({ N: x.N, d: x.d, ok: x.ok, ms_per_step: x.ok ? round(x.step_s_median * 1000) : null, first_step_ms: x.ok ? round(x.first_step_s * 1000) : null, peak_rss_mib: round(x.peak_rss_mib), error: x.error })),
  };
}

async function parent() {
  const modes = gpuModes();
  const configs = ['cpu-1', ...(os.availableParallelism() > 1 && fs.existsSync(path.join(ROOT, 'dist/src/runtime/backend-cpu-parallel.js')) ? ['cpu-all'] : [])];
  for (const m of modes) if (m.available) configs.push(`gpu:${m.mode}`, ...(m.mode === 'webgpu' ? ['gpu:webgpu-resident'] : []));
  if (CONFIGS) configs.splice(0, configs.length, ...configs.filter((c) => CONFIGS.includes(c)));
  log(`configurations: ${configs.join(', ')}`);
  const machine = { cpus: os.availableParallelism(), cpu_model: os.cpus()[0]?.model, node: process.version, loadavg_at_start: os.loadavg().map(round), memory_gib: round(os.totalmem() / 2 ** 30) };
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
          stopped = `a smaller N was skipped (N = ${N} too slow)`;
          continue;
        }
        log(`${config} N=${N} d=${d}${predicted ? ` (predicted ${predicted.toFixed(1)} s/step)` : ''}`);
        const r = { config, N, d, ...runChild(config, N, d) };
        log(`  ${r.ok ? `${r.ms_per_step} ms/step, peak ${r.peak_rss_mib} MiB` : r.error}`);
        results.push(r);
        if (r.ok) prev = r;
        else stopped = `N = ${N} failed`;
      }
    }
  const peer = process.argv.includes('--no-peer') ? { ran: false, why: 'skipped: --no-peer' } : torchPeer();
  const best = (N, d) => Math.min(...results.filter((r) => r.ok && r.N === N && r.d === d && r.config.startsWith('gpu:')).map((r) => r.ms_per_step));
  const at = (config, N, d) => results.find((r) => r.ok && r.config === config && r.N === N && r.d === d);
  const torch16k = peer.ran ? peer.results.find((r) => r.ok && r.N === 16384 && r.d === 2) : undefined;
  const big = results.filter((r) => r.ok && r.N === 65536 && r.d === 2);
  const c1 = at('cpu-1', 16384, 2);
  const c2 = at('cpu-all', 16384, 2);
  const targets = {
    best_gpu_vs_torch_16384_d2: torch16k ? { best_gpu_ms: best(16384, 2), torch_f32_ms: torch16k.ms_per_step, ratio: round((best(16384, 2) / torch16k.ms_per_step) * 100) / 100, target: '≤ 0.7' } : 'torch not run',
    n65536_d2_peak_memory: big.length ? big.map((r) => ({ config: r.config, ms_per_step: r.ms_per_step, peak_rss_mib: r.peak_rss_mib, under_1_gib: r.peak_rss_mib < 1024 })) : 'no configuration ran',
    cpu_threads_speedup_16384_d2: c1 && c2 ? { one_thread_ms: c1.ms_per_step, all_cores_ms: c2.ms_per_step, speedup: round((c1.ms_per_step / c2.ms_per_step) * 100) / 100, target: '≥ 1.7' } : 'not measured',
  };
  process.stdout.write(JSON.stringify({ machine, gpu_modes: modes, max_step_s: MAX_STEP_S, results, torch: peer, targets }, null, 1) + '\n');
}

if (process.argv[2] === '--child') await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else await parent();
