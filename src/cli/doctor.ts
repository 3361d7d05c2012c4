// `flowc doctor`: what this machine offers the gpu backend. For each gpu.js
// mode: available or not and why, the adapter or renderer, and about a
// second of a standard reduction (the ½MMD² velocity stage, Gaussian kernel,
// N = M = 4096, d = 2), in milliseconds per call. Also the `--backend`
// option's parser.

import os from 'node:os';
import path from 'node:path';
import { compile } from '../compiler/compile.js';
import { GpuBackend } from '../runtime/backend-gpu.js';
import { GPU_MODES, probeMode } from '../runtime/gpu/modes.js';
import { cacheFile } from '../runtime/gpu/select.js';
import { binaryCacheDir } from '../runtime/wasm-assemble.js';
import { loadMeasures } from '../runtime/inputs.js';

/** `--backend cpu | cpu:js | gpu | gpu:MODE`, as given; gpuRequest() reads it. */
export { gpuRequest, parseBackend } from './backend-option.js';

const STANDARD = `flow doctor
particles mu in R^2: 4096 ~ normal(0, 1)
sample nu in R^2: 4096 ~ normal(1.5, 1)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 1)
`;

export async function cmdDoctor(out: (s: string) => void): Promise<number> {
  out(`flowc doctor: gpu.js modes on ${os.hostname()} (${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.availableParallelism()} cores)\n`);
  out(`timing: the velocity stage of ½MMD² with a Gaussian kernel, N = M = 4096, d = 2, ms per call (kernels, transfers and partial sums)\n\n`);
  const compiled = compile(STANDARD, { file: path.join(os.tmpdir(), 'doctor.flow') }).compiled!;
  const { measures } = loadMeasures(compiled.ir);
  const particles = measures.find((m) => m.name === compiled.ir.particles)!;
  for (const mode of GPU_MODES) {
    const p = await probeMode(mode);
    out(`${mode.padEnd(11)}${p.available ? 'available ' : 'no        '}${p.detail}\n`);
    if (!p.available) continue;
    if (p.renderer) out(`${' '.repeat(21)}renderer: ${p.renderer}\n`);
    const backend = await GpuBackend.open(compiled, measures, particles.data.slice(), mode, {});
    const msPerCall = await backend.timeFirstStage(1000);
    backend.dispose();
    out(`${' '.repeat(21)}${msPerCall === null ? 'no kernels to time' : `${msPerCall.toFixed(1)} ms per call`}\n`);
  }
  out(`\n--backend gpu (auto) caches its choice in ${cacheFile()}\n`);
  const wasm = binaryCacheDir();
  out(wasm ? `the cpu backend keeps its assembled modules in ${wasm}\n` : 'the cpu backend keeps no assembled modules (FLOWC_CACHE=off)\n');
  return 0;
}
