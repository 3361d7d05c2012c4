// The programmatic entry points: compile a spec, run it, get the trace and
// the positions back as arrays. The CLI is a thin layer over these.

import type { Compiled } from './compiler/compile.js';
import { error, FlowError, type Diagnostic } from './compiler/diagnostics.js';
import { CpuBackend, type Backend } from './runtime/backend-cpu.js';
import { defaultThreads, ParallelCpuBackend, sharedCopy } from './runtime/backend-cpu-parallel.js';
import { openGpuBackend, type GpuRequest } from './runtime/gpu/select.js';
import { WasmCpuBackend } from './runtime/backend-wasm.js';
import type { MeasureData } from './runtime/inputs.js';
import { simulate, type RunResult, type SimulateOptions } from './runtime/simulate.js';
import { compileOrThrow, prepareInputs, type FlowOptions } from './front.js';

export { compileFile, compileOrThrow, prepareInputs, readSpec, type FlowOptions } from './front.js';

export interface RunOptions extends FlowOptions {
  /** called after each step, with the energy at the latest record */
  onStep?: (step: number, steps: number, energy: number) => void;
  /** `--threads N`: threads of the cpu backend (default: every core from PARALLEL_MIN_PARTICLES particles on, else 1) */
  threads?: number;
  /** `--backend gpu[:MODE]`: run the reduction stages as gpu.js kernels (float32); default the cpu backend */
  gpu?: GpuRequest;
  /** the cpu backend's kernels: WebAssembly SIMD (`--backend cpu`, the default) or generated JavaScript (`--backend cpu:js`) */
  kernels?: 'wasm' | 'js';
  /** `--precision`: float64 (default) or float32 (the WebAssembly cpu backend only) */
  precision?: 'float64' | 'float32';
  /** measures already loaded by prepareInputs (the CLI hashes data files into run.json before the run) */
  inputs?: { measures: MeasureData[]; warnings: Diagnostic[] };
  /** streamed records, checkpoints, resume and stop (simulate.ts, SimulateOptions) */
  loop?: Omit<SimulateOptions, 'onStep'>;
}

export interface FlowRun {
  compiled: Compiled;
  measures: MeasureData[];
  result: RunResult;
  /** what ran; a gpu backend adds its mode, why it was chosen, and its kernels (describe()) */
  backend: { name: string; precision: string; threads: number } & Record<string, unknown>;
  /** wall time per phase, milliseconds (kernels: generating and assembling the backend's kernels, starting its threads) */
  timings: { compile: number; inputs: number; kernels: number; setup: number; steps: number; record: number };
  warnings: Diagnostic[];
  /** wall-clock start and end of the run (ISO 8601, UTC) */
  started?: string;
  finished?: string;
}

export async function runCompiled(compiled: Compiled, options: RunOptions = {}, compileMs = 0): Promise<FlowRun> {
  const started = new Date().toISOString();
  const t0 = performance.now();
  const { measures, warnings } = options.inputs ?? prepareInputs(compiled);
  const particles = measures.find((m) => m.name === compiled.ir.particles);
  // a flow of states: the threads by its largest measure (the models' samples)
  const threads = options.gpu ? 1 : (options.threads ?? defaultThreads(particles?.size ?? Math.max(...measures.map((m) => m.size))));
  const js = !options.gpu && options.kernels === 'js';
  if (options.precision === 'float32' && js) throw new FlowError(error(compiled.ir.file, undefined, '--precision float32 needs the WebAssembly cpu backend (--backend cpu), not cpu:js'));
  // on several threads, the JS backend's positions live in shared memory (the wasm backend copies them into its own)
  const initial = particles?.data ?? new Float64Array(0);
  const positions = js && threads > 1 ? sharedCopy(initial) : initial.slice();
  const inputs = performance.now() - t0;
  const t1 = performance.now();
  const backend: Backend = options.gpu
    ? await openGpuBackend(compiled, measures, positions, options.gpu)
    : !js
      ? await WasmCpuBackend.open(compiled, measures, positions, { threads, precision: options.precision ?? 'float64' })
      : threads > 1
        ? new ParallelCpuBackend(compiled, measures, positions, threads)
        : new CpuBackend(compiled, measures, positions);
  const kernels = performance.now() - t1;
  let result: RunResult;
  try {
    result = await simulate(compiled, measures, positions, backend, { ...options.loop, onStep: options.onStep });
  } finally {
    await backend.dispose?.();
  }
  const file = compiled.ir.file;
  const runWarnings = result.warnings.map((message): Diagnostic => ({ ...error(file, undefined, message), severity: 'warning' }));
  return {
    compiled,
    measures,
    result,
    backend: { name: backend.name, precision: backend.precision, threads, ...backend.describe?.() },
    timings: { compile: compileMs, inputs, kernels, ...result.timings },
    warnings: [...warnings, ...runWarnings],
    started,
    finished: new Date().toISOString(),
  };
}

export async function runFile(file: string, options: RunOptions = {}): Promise<FlowRun> {
  const t0 = performance.now();
  const { compiled, warnings } = compileOrThrow(file, options);
  const run = await runCompiled(compiled, options, performance.now() - t0);
  return { ...run, warnings: [...warnings, ...run.warnings] };
}
