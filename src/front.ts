// The front half of the API: read a spec, compile it, load its data. Kept
// apart from api.ts (which also loads the backends and the time loop) so that
// `flowc check` and `flowc compile` start without loading what only a run
// needs; api.ts re-exports everything here.

import fs from 'node:fs';
import { compile as compileSource, type Compiled, type CompileResult } from './compiler/compile.js';
import { error, FlowError, type Diagnostic } from './compiler/diagnostics.js';
import { loadMeasures, type MeasureData } from './runtime/inputs.js';

export interface FlowOptions {
  /** `--set NAME=VALUE`: overrides of let constants */
  set?: Record<string, number[]>;
  /** `--steps N`: overrides the scheme's number of steps */
  steps?: number;
  /** `--seed N`: overrides the spec's seed */
  seed?: number;
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
  return { ...compileSource(source, { file, overrides: options.set, steps: options.steps, seed: options.seed }), source };
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
