// flowc from a program or a notebook:
//
//   import { compile, run } from 'flowc';
//   const r = await run('specs/mmd-three-modes.flow', { set: { sigma: 0.5 }, steps: 100 });
//   r.trace.F                       // number[]: the energy at each record
//   r.positions.mu.data             // Float64Array, shape r.positions.mu.shape = [records, N, d]
//
// A spec is a path to a .flow file or the source text itself. Nothing is
// written unless `out` names a run folder. Spec errors throw a FlowError
// that carries the diagnostics; a diverged run is a result with status
// 'diverged', holding what was recorded before it. plot() and report()
// draw a run folder, as `flowc plot` and `flowc report` do.

import type { PlotOptions } from './draw/plot.js';
import { compile as compileSource, type Compiled } from './compiler/compile.js';
import { FlowError, type Diagnostic } from './compiler/diagnostics.js';
import { readSpec, runCompiled, type RunOptions, type FlowRun } from './api.js';
import { writeRunFolder } from './run-folder.js';
import { RunDir } from './runtime/run-dir.js';
import type { Divergence } from './runtime/simulate.js';

export interface CompileOptions {
  /** replace let constants, like `--set`: `{ sigma: 0.3, a: [1, 0] }` */
  set?: Record<string, number | number[]>;
  /** replace the scheme's number of steps, like `--steps` */
  steps?: number;
  /** replace the spec's seed, like `--seed` */
  seed?: number;
  /**
   * For source text: the file name shown in diagnostics; data files are read
   * relative to its folder. Default '<source>', in the current folder.
   */
  file?: string;
}

/** A compiled spec. */
export interface Flow {
  name: string;
  title?: string;
  /** the spec file, or `file` for source text */
  file: string;
  source: string;
  /** the energy's column in the trace */
  energy: string;
  /** the trace's columns: step, t, the energy, then each recorded scalar */
  columns: string[];
  measures: { name: string; role: 'particles' | 'sample' | 'model'; dim: number }[];
  /** the let constants after `set` */
  constants: Record<string, number | number[]>;
  /** the overrides compiled in (`set`, as `--set` records them in run.json) */
  set: Record<string, number[]>;
  warnings: Diagnostic[];
  /** the compiler's output: IR, plan, generated kernels */
  compiled: Compiled;
}

export interface RunFlowOptions extends CompileOptions, Omit<RunOptions, 'set' | 'steps'> {
  /** write a run folder (run.json, trace.csv, NAME.npy) as `flowc run --out` does */
  out?: string;
  /** overwrite the flowc files of an existing `out` folder */
  force?: boolean;
}

/** The recorded positions of one measure: `data[(record * size + i) * dim + c]`. */
export interface Positions {
  measure: string;
  data: Float64Array;
  /** [records, size, dim] */
  shape: [number, number, number];
  /** the step of each record */
  steps: number[];
}

export interface FlowResult {
  flow: Flow;
  status: 'ok' | 'diverged' | 'interrupted';
  divergence?: Divergence;
  /** steps completed */
  steps: number;
  /** one array per trace column (flow.columns), one entry per record */
  trace: Record<string, number[]>;
  /** per `positions(...)` record item, by its column name (the measure's name unless the item is named) */
  positions: Record<string, Positions>;
  /** `weights(m)` items (metrics KL and WFR): `data[record * size + i]`, shape [records, size] */
  weights: Record<string, { measure: string; data: Float64Array; shape: [number, number]; steps: number[] }>;
  /** the particles after the last step completed: size × dim (a flow of states: shape [0, 0]) */
  final: { data: Float64Array; shape: [number, number] };
  /** recorded states and critics, by column: `data[record * dim + c]`, shape [records, dim] */
  states: Record<string, { data: Float64Array; shape: [number, number]; steps: number[] }>;
  /** each state's and critic's coordinates after the last step completed */
  finalStates: Record<string, Float64Array>;
  backend: { name: string; precision: string } & Record<string, unknown>;
  /** wall time per phase, milliseconds */
  timings: Record<string, number>;
  warnings: Diagnostic[];
  /** the run folder, when `out` was given */
  dir?: string;
}

/** A one-line string ending in .flow is a path; anything else is source text. */
const isPath = (spec: string) => !/[\r\n]/.test(spec) && spec.trim().endsWith('.flow');

const toSet = (set: CompileOptions['set'] = {}) => Object.fromEntries(Object.entries(set).map(([k, v]) => [k, typeof v === 'number' ? [v] : v]));

/** Compile a spec (path or source text); throws a FlowError on errors. */
export function compile(spec: string, options: CompileOptions = {}): Flow {
  const file = isPath(spec) ? spec.trim() : (options.file ?? '<source>');
  const source = isPath(spec) ? readSpec(file) : spec;
  const set = toSet(options.set);
  const r = compileSource(source, { file, overrides: set, steps: options.steps, seed: options.seed });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length) throw new FlowError(errors.length ? errors : r.diagnostics);
  const ir = r.compiled.ir;
  return {
    name: ir.flow.name,
    title: ir.flow.title,
    file,
    source,
    energy: ir.energy.name,
    columns: ['step', 't', ...r.compiled.observed.map((o) => o.column)],
    measures: ir.measures.map((m) => ({ name: m.name, role: m.role, dim: m.dim })),
    constants: Object.fromEntries(ir.params.map((p) => [p.name, p.value.length === 1 ? p.value[0] : [...p.value]])),
    set,
    warnings: r.diagnostics,
    compiled: r.compiled,
  };
}

/** Compile and run a spec (path or source text), or run a Flow from compile(). */
export async function run(spec: string | Flow, options: RunFlowOptions = {}): Promise<FlowResult> {
  if (typeof spec !== 'string' && (options.set || options.steps !== undefined)) throw new TypeError('run(flow): set and steps belong to compile(spec, { set, steps })');
  const t0 = performance.now();
  const flow = typeof spec === 'string' ? compile(spec, options) : spec;
  const compileMs = typeof spec === 'string' ? performance.now() - t0 : 0;
  // like the CLI: fail on the output folder before spending time on the run
  // (the folder's lock, and --force's fresh folder swapped in at the end: runtime/run-dir.ts)
  const runDir = options.out !== undefined ? RunDir.open(options.out, 'new', !!options.force) : undefined;
  let r: FlowRun;
  const timings: Record<string, number> = {};
  try {
    r = await runCompiled(flow.compiled, { ...options, set: undefined, steps: undefined }, compileMs);
    Object.assign(timings, r.timings);
    if (runDir) {
      const written = writeRunFolder(runDir.dir, flow.file, r, flow.set);
      timings.write = written.writeMs;
      runDir.finish(written.files);
    }
  } finally {
    runDir?.release();
  }

  const { trace, snapshots } = r.result;
  const steps = trace.rows.map((row) => row[0]);
  const particles = r.measures.find((m) => m.name === flow.compiled.ir.particles);
  return {
    flow,
    status: r.result.status,
    divergence: r.result.divergence,
    steps: r.result.steps,
    trace: Object.fromEntries(trace.columns.map((c, k) => [c, trace.rows.map((row) => row[k])])),
    positions: Object.fromEntries(
      snapshots.flatMap((s) => {
        if (s.kind !== 'positions') return [];
        const data = new Float64Array(s.records.length * s.size * s.dim);
        s.records.forEach((rec, k) => data.set(rec, k * s.size * s.dim));
        return [[s.column, { measure: s.measure, data, shape: [s.records.length, s.size, s.dim], steps: steps.slice(0, s.records.length) }]];
      }),
    ),
    weights: Object.fromEntries(
      snapshots.flatMap((s) => {
        if (s.kind !== 'weights') return [];
        const data = new Float64Array(s.records.length * s.size);
        s.records.forEach((rec, k) => data.set(rec, k * s.size));
        return [[s.column, { measure: s.measure, data, shape: [s.records.length, s.size], steps: steps.slice(0, s.records.length) }]];
      }),
    ),
    states: Object.fromEntries(
      snapshots.flatMap((s) => {
        if (s.kind !== 'state') return [];
        const data = new Float64Array(s.records.length * s.dim);
        s.records.forEach((rec, k) => data.set(rec, k * s.dim));
        return [[s.column, { data, shape: [s.records.length, s.dim], steps: steps.slice(0, s.records.length) }]];
      }),
    ),
    finalStates: r.result.states ?? {},
    final: { data: r.result.positions.slice(), shape: particles ? [particles.size, particles.dim] : [0, 0] },
    backend: r.backend,
    timings,
    warnings: [...flow.warnings, ...r.warnings],
    dir: options.out,
  };
}

/** Draw the figure of a run folder (SVG, or PNG when `out` ends in .png; default DIR/plot.svg); returns the file. */
export async function plot(dir: string, options: PlotOptions & { out?: string } = {}): Promise<string> {
  // Vega loads on first use, not with flowc
  const { plotRun } = await import('./draw/plot.js');
  return (await plotRun(dir, options.out, options)).file;
}

/** Write the self-contained HTML report of a run folder (default DIR/report.html); returns the file. */
export async function report(dir: string, options: { out?: string } = {}): Promise<string> {
  const { reportRun } = await import('./draw/report.js');
  return (await reportRun(dir, options.out)).file;
}
