// The programmatic entry points: compile a spec, run it, get the trace and
// the positions back as arrays. The CLI is a thin layer over these.

import fs from 'node:fs';
import { compile as compileSource, type Compiled, type CompileResult } from './compiler/compile.js';
import { error, FlowError, type Diagnostic } from './compiler/diagnostics.js';
import { CpuBackend } from './runtime/backend-cpu.js';
import { loadMeasures, type MeasureData } from './runtime/inputs.js';
import { simulate, type RunResult } from './runtime/simulate.js';

export interface FlowOptions {
  /** `--set NAME=VALUE`: overrides of let constants */
  set?: Record<string, number[]>;
  /** `--steps N`: overrides the scheme's number of steps */
  steps?: number;
}

export interface RunOptions extends FlowOptions {
  onStep?: (step: number, steps: number) => void;
}

export interface FlowRun {
  compiled: Compiled;
  measures: MeasureData[];
  result: RunResult;
  backend: { name: string; precision: string };
  /** wall time per phase, milliseconds */
  timings: { compile: number; inputs: number; setup: number; steps: number; record: number };
  warnings: Diagnostic[];
}

export function readSpec(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FlowError(error(file, undefined, code === 'ENOENT' ? `no such file` : code === 'EISDIR' ? 'is a folder, not a .flow file' : `cannot read: ${(e as Error).message}`));
  }
}

/** Compile a .flow file; diagnostics are returned, not thrown. */
export function compileFile(file: string, options: FlowOptions = {}): CompileResult & { source: string } {
  const source = readSpec(file);
  return { ...compileSource(source, { file, overrides: options.set, steps: options.steps }), source };
}

/** Compile, or throw the diagnostics as one FlowError. */
export function compileOrThrow(file: string, options: FlowOptions = {}): { compiled: Compiled; source: string; warnings: Diagnostic[] } {
  const r = compileFile(file, options);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length) throw new FlowError(errors.length ? errors : r.diagnostics);
  return { compiled: r.compiled, source: r.source, warnings: r.diagnostics };
}

/** Load the measures of a compiled flow (sampling, CSV files): data errors surface here. */
export function prepareInputs(compiled: Compiled): { measures: MeasureData[]; warnings: Diagnostic[] } {
  return loadMeasures(compiled.ir);
}

export async function runCompiled(compiled: Compiled, options: RunOptions = {}, compileMs = 0): Promise<FlowRun> {
  const t0 = performance.now();
  const { measures, warnings } = prepareInputs(compiled);
  const particles = measures.find((m) => m.name === compiled.ir.particles)!;
  const positions = particles.data.slice();
  const inputs = performance.now() - t0;
  const backend = new CpuBackend(compiled, measures, positions);
  const result = await simulate(compiled, measures, positions, backend, { onStep: options.onStep });
  return {
    compiled,
    measures,
    result,
    backend: { name: backend.name, precision: backend.precision },
    timings: { compile: compileMs, inputs, ...result.timings },
    warnings,
  };
}

export async function runFile(file: string, options: RunOptions = {}): Promise<FlowRun> {
  const t0 = performance.now();
  const { compiled, warnings } = compileOrThrow(file, options);
  const run = await runCompiled(compiled, options, performance.now() - t0);
  return { ...run, warnings: [...warnings, ...run.warnings] };
}
