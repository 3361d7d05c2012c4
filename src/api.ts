// The programmatic entry points: compile a spec, run it, get the trace and
// the positions back as arrays. The CLI is a thin layer over these.

import type { Compiled } from './compiler/compile.js';
import { error, type Diagnostic } from './compiler/diagnostics.js';
import { CpuBackend, type Backend } from './runtime/backend-cpu.js';
import { defaultThreads, ParallelCpuBackend, sharedCopy } from './runtime/backend-cpu-parallel.js';
import { openGpuBackend, type GpuRequest } from './runtime/gpu/select.js';
import type { MeasureData } from './runtime/inputs.js';
import { simulate, type RunResult } from './runtime/simulate.js';
import { compileOrThrow, prepareInputs, type FlowOptions } from './front.js';

export { compileFile, compileOrThrow, prepareInputs, readSpec, type FlowOptions } from './front.js';

export interface RunOptions extends FlowOptions {
  /** called after each step, with the energy at the latest record */
  onStep?: (step: number, steps: number, energy: number) => void;
  /** `--threads N`: threads of the cpu backend (default: every core from PARALLEL_MIN_PARTICLES particles on, else 1) */
  threads?: number;
  /** `--backend gpu[:MODE]`: run the reduction stages as gpu.js kernels (float32); default the cpu backend */
  gpu?: GpuRequest;
}

export interface FlowRun {
  compiled: Compiled;
  measures: MeasureData[];
  result: RunResult;
  /** what ran; a gpu backend adds its mode, why it was chosen, and its kernels (describe()) */
  backend: { name: string; precision: string; threads: number } & Record<string, unknown>;
  /** wall time per phase, milliseconds */
  timings: { compile: number; inputs: number; setup: number; steps: number; record: number };
  warnings: Diagnostic[];
  /** wall-clock start and end of the run (ISO 8601, UTC) */
  started?: string;
  finished?: string;
}

export async function runCompiled(compiled: Compiled, options: RunOptions = {}, compileMs = 0): Promise<FlowRun> {
  const started = new Date().toISOString();
  const t0 = performance.now();
  const { measures, warnings } = prepareInputs(compiled);
  const particles = measures.find((m) => m.name === compiled.ir.particles);
  // a flow of states: the threads by its largest measure (the models' samples)
  const threads = options.gpu ? 1 : (options.threads ?? defaultThreads(particles?.size ?? Math.max(...measures.map((m) => m.size))));
  // on several threads, the positions simulate() updates live in shared memory
  const initial = particles?.data ?? new Float64Array(0);
  const positions = threads > 1 ? sharedCopy(initial) : initial.slice();
  const inputs = performance.now() - t0;
  const backend: Backend = options.gpu
    ? await openGpuBackend(compiled, measures, positions, options.gpu)
    : threads > 1
      ? new ParallelCpuBackend(compiled, measures, positions, threads)
      : new CpuBackend(compiled, measures, positions);
  let result: RunResult;
  try {
    result = await simulate(compiled, measures, positions, backend, { onStep: options.onStep });
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
    timings: { compile: compileMs, inputs, ...result.timings },
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
