// Benchmark: resident Euler steps on gpu:webgpu against host steps of the
// same backend, paired in one process. The ½MMD² flow of gpu-step.js
// (Gaussian kernel, sigma = 1, step 1, N = M). Each round times one host
// step (velocity kernels, read-back of the partial sums, float64 post
// function and update on the host) and one resident step (BATCH device
// steps, then one read-back of the positions, divided by BATCH), back to
// back, so a change in machine load hits both; the JSON gives the median of
// each and the median of the per-round ratios.
//
//   npm run build && node bench/gpu-resident.js [--sizes 1024,4096,16384] [--dims 2,16] [--rounds 5]
//
// stdout: one JSON document; progress on stderr.

import os from 'node:os';
import path from 'node:path';

const option = (name, all) => {
  const k = process.argv.indexOf(name);
  return k < 0 ? all : process.argv[k + 1].split(',');
};
const SIZES = option('--sizes', [1024, 4096, 16384]).map(Number);
const DIMS = option('--dims', [2, 16]).map(Number);
const ROUNDS = Number(option('--rounds', ['5'])[0]);
const BATCH = 5;
const log = (s) => process.stderr.write(s + '\n');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x) => Math.round(x * 100) / 100;

const { compile } = await import('../dist/src/compiler/compile.js');
const { mmdStepSpec } = await import('./mmd-spec.js');
const { loadMeasures } = await import('../dist/src/runtime/inputs.js');
const { openGpuBackend } = await import('../dist/src/runtime/gpu/select.js');

const results = [];
for (const d of DIMS)
  for (const N of SIZES) {
    const source = mmdStepSpec('gpu_resident_bench', N, d);
    const { compiled } = compile(source, { file: path.join(os.tmpdir(), 'gpu-resident.flow') });
    const { measures } = loadMeasures(compiled.ir);
    const positions = measures.find((m) => m.name === 'mu').data.slice();
    const backend = await openGpuBackend(compiled, measures, positions, 'webgpu');
    if (!backend.deviceStep) throw new Error(`not resident: ${backend.describe().resident_why_not}`);
    await backend.setup();
    const v = new Float64Array(positions.length);
    const host = async () => {
      const t0 = performance.now();
      await backend.velocity(v);
      for (let k = 0; k < positions.length; k++) positions[k] += v[k];
      return performance.now() - t0;
    };
    const resident = async () => {
      const t0 = performance.now();
      for (let k = 0; k < BATCH; k++) await backend.deviceStep(1);
      await backend.sync();
      return (performance.now() - t0) / BATCH;
    };
    // warm-up: compiles both paths' kernels
    await host();
    await resident();
    const h = [];
    const r = [];
    for (let k = 0; k < ROUNDS; k++) {
      h.push(await host());
      r.push(await resident());
    }
    await backend.dispose?.();
    const out = { N, d, host_ms: round(median(h)), resident_ms: round(median(r)), resident_over_host: round(median(h.map((x, k) => r[k] / x))), rounds: ROUNDS };
    log(JSON.stringify(out));
    results.push(out);
  }
process.stdout.write(JSON.stringify({ machine: { cpus: os.availableParallelism(), loadavg_at_end: os.loadavg().map(round) }, batch: BATCH, results }, null, 1) + '\n');
process.exit(0);
