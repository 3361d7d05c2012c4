// The flowc command line: run | sweep | check | compile | golden | test | plot | report | init | doctor | playground.
// Every failure prints diagnostics (file:line:column) and returns a non-zero
// exit code; a stack trace appears only with FLOWC_DEBUG=1.

import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { FlowRun } from '../api.js';
import { compileFile, compileOrThrow, prepareInputs } from '../front.js';
import { FlowError, type Diagnostic } from '../compiler/diagnostics.js';
import { cmdCheck, cmdCompileSummary, err, failure, out, parseSet, report } from './front-commands.js';
import { PARALLEL_MIN_PARTICLES } from '../runtime/backend-cpu-parallel.js';
import { error } from '../compiler/diagnostics.js';
import { CHECKPOINT_FILE, readCheckpoint } from '../runtime/checkpoint.js';
import { RunDir } from '../runtime/run-dir.js';
import { readRunJson, type RunMetaJson } from '../runtime/schemas.js';
import { runJsonHead, sha256, VERSION } from '../run-folder.js';
import { checkDiskSpace, RunSession } from '../run-session.js';
import type { FlowIR } from '../compiler/lower.js';
import { spaceText } from '../compiler/columns.js';
import { compareGolden, goldenPath, makeGolden, readGolden, DEFAULT_TOLERANCE } from './golden.js';
import { gpuRequest, parseBackend } from './backend-option.js';
import { initSpec } from './init.js';
import type { PlotOptions } from '../draw/plot.js';
import { createProgress } from './progress.js';
import { parseGrid, parseSeeds } from '../study/sweep.js';

/** An argument parser's error as commander's (a usage error, exit 2). */
function wrapArg<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got '${text}'`);
  return n;
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535, got '${text}'`);
  return n;
}

function parseThreads(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got '${text}'`);
  return n;
}

function parseTol(text: string): number {
  const n = Number(text);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected a number ≥ 0, got '${text}'`);
  return n;
}

const ms = (x: number) => (x < 10 ? `${x.toFixed(1)} ms` : x < 10000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`);
const num = (x: number) => (Number.isFinite(x) ? x.toPrecision(6) : String(x));

// Vega and resvg take a second to load: only the commands that draw load them.
const plotModule = () => import('../draw/plot.js');
const reportModule = () => import('../draw/report.js');
// Nor do `check` and `compile` load the backends, the time loop or ajv (flowc check starts fast).
const runCompiled = async (...args: Parameters<typeof import('../api.js').runCompiled>) => (await import('../api.js')).runCompiled(...args);

/** What a plot or report could not show, as warnings (each once). */
function reportNotes(dir: string, notes: string[]): void {
  report([...new Set(notes)].map((message) => ({ severity: 'warning', file: dir, message })));
}

/** `--coords 1,2`: two different coordinates, 0-based. */
function parseCoords(text: string): [number, number] {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(text);
  if (!m || m[1] === m[2]) throw new InvalidArgumentError(`expected two different coordinates like 0,1 (0-based), got '${text}'`);
  return [Number(m[1]), Number(m[2])];
}

/** `--records 0,100,400`: recorded steps. */
function parseSteps(text: string): number[] {
  return text.split(',').map((s) => parseCount(s.trim()));
}

async function cmdPlot(dir: string, opts: Omit<PlotOptions, 'columns'> & { out?: string; columns?: string }): Promise<number> {
  const { file, notes } = await (await plotModule()).plotRun(dir, opts.out, { ...opts, columns: opts.columns === undefined ? undefined : [opts.columns] });
  reportNotes(dir, notes);
  out(`wrote ${file}\n`);
  return 0;
}

function divergenceDiagnostic(file: string, run: FlowRun): Diagnostic | undefined {
  const d = run.result.divergence;
  if (!d) return undefined;
  const rows = run.result.trace.rows;
  return {
    severity: 'error',
    file,
    message: `the run diverged at step ${d.step}: ${d.quantity} is ${Number.isFinite(d.value) ? Number(d.value.toPrecision(12)) : d.value}${d.note ? ` (${d.note})` : ''}; the outputs keep what was recorded up to step ${rows[rows.length - 1]?.[0] ?? 0} (${run.result.records} record${run.result.records === 1 ? '' : 's'}); try a smaller step`,
  };
}

interface RunCliOptions {
  out?: string;
  set: Record<string, number[]>;
  steps?: number;
  seed?: number;
  threads?: number;
  backend: string;
  precision: 'float64' | 'float32';
  force?: boolean;
  quiet?: boolean;
  plot?: boolean;
  report?: boolean;
  resume?: string;
  checkpointEvery?: number;
}

/** SIGINT and SIGTERM while a run steps: the first ends it after the current step (files valid, a checkpoint); a second ends the process at once. */
function catchSignals(): { signal: () => NodeJS.Signals | undefined; dispose: () => void } {
  let got = earlySignal;
  const on = (sig: NodeJS.Signals) => {
    if (got) process.exit(signalExitCode(sig));
    got = sig;
    err(`flowc: ${sig}: stopping after the current step (send it again to stop at once)\n`);
  };
  const hub = signalHub();
  if (hub) {
    // bin/flowc.js's handler stays installed: swapping what it calls leaves no moment without one
    const before = hub.on;
    hub.on = on;
    return { signal: () => got, dispose: () => void (hub.on = before) };
  }
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { signal: () => got, dispose: () => (process.off('SIGINT', on), process.off('SIGTERM', on)) };
}

async function cmdRun(spec: string, opts: RunCliOptions): Promise<number> {
  // from the start: a signal while the spec compiles or the data loads stops the run after its first step
  const signals = catchSignals();
  try {
    return await runSpec(spec, opts, signals);
  } finally {
    signals.dispose();
  }
}

async function runSpec(spec: string, opts: RunCliOptions, signals: ReturnType<typeof catchSignals>): Promise<number> {
  const t0 = performance.now();
  let set = opts.set;
  let steps = opts.steps;
  let seed = opts.seed;
  let backendName = opts.backend;
  let precision = opts.precision;
  let meta: RunMetaJson | undefined;
  if (opts.resume !== undefined) {
    if (opts.out !== undefined || opts.force) throw new FlowError(error(opts.resume, undefined, '--resume continues the run in its own folder: drop --out and --force'));
    if (Object.keys(opts.set).length || opts.steps !== undefined || opts.seed !== undefined || opts.checkpointEvery !== undefined)
      throw new FlowError(error(opts.resume, undefined, '--resume continues a run with its own constants, seed, steps and checkpoints (run.json): drop --set, --seed, --steps and --checkpoint-every'));
    meta = readRunJson(opts.resume);
    if (meta.status === 'ok') throw new FlowError(error(opts.resume, undefined, `the run in "${opts.resume}" is complete (status ok): there is nothing to resume`));
    if (meta.status === 'diverged') throw new FlowError(error(opts.resume, undefined, `the run in "${opts.resume}" diverged: resuming it would diverge again`));
    set = meta.set;
    steps = meta.scheme.steps;
    seed = meta.seed;
    backendName = meta.backend_request ?? 'cpu';
    precision = meta.precision_request ?? 'float64';
  }
  const { compiled, source, warnings } = compileOrThrow(spec, { set, steps, seed });
  if (meta && typeof meta.spec === 'object' && sha256(source) !== meta.spec.sha256)
    throw new FlowError(error(spec, undefined, `this is not the spec the run in "${opts.resume}" ran (its sha256 differs from run.json's): --resume continues a run with the same spec`));
  const compileMs = performance.now() - t0;
  const dir = opts.resume ?? opts.out ?? path.join('runs', compiled.ir.flow.name);
  const checkpoint = meta ? readCheckpoint(path.join(dir, CHECKPOINT_FILE)) : undefined;
  const checkpointEvery = meta?.checkpoint_every ?? opts.checkpointEvery ?? compiled.ir.checkpoint?.every ?? 0;
  // data errors and a disk too small surface before the folder is touched
  const inputs = prepareInputs(compiled);
  checkDiskSpace(dir, compiled, inputs.measures, checkpoint?.step ?? 0);
  // claim the folder before spending time on the run
  const runDir = RunDir.open(dir, meta ? 'resume' : 'new', !!opts.force);
  let session: RunSession | undefined;
  let run: FlowRun;
  let files: string[];
  let writeMs = 0;
  const progress = createProgress({ quiet: opts.quiet, energy: compiled.ir.energy.name });
  try {
    if (meta) {
      for (const d of meta.data ?? []) {
        const now = inputs.measures.find((m) => m.name === d.measure)?.file;
        if (now && now.sha256 !== d.sha256) throw new FlowError(error(now.path, undefined, `this data file has changed since the run in "${dir}" read it (sha256 differs from run.json's): --resume needs the same data`));
      }
    }
    session = new RunSession(
      runDir,
      { file: spec, source, compiled, measures: inputs.measures, set, checkpointEvery, backend: backendName, precision },
      runJsonHead(spec, source, compiled, inputs.measures, set),
      checkpoint,
    );
    session.begin();
    run = await runCompiled(
      compiled,
      {
        set,
        steps,
        threads: opts.threads,
        gpu: gpuRequest(backendName),
        kernels: backendName === 'cpu:js' ? 'js' : 'wasm',
        precision,
        onStep: progress?.onStep,
        inputs,
        loop: { onRecord: session.onRecord, onCheckpoint: session.onCheckpoint, checkpointEvery, stop: () => signals.signal() !== undefined, resume: checkpoint },
      },
      compileMs,
    );
    const w0 = performance.now();
    files = session.finish(run, 0);
    writeMs = performance.now() - w0;
  } catch (e) {
    if (session) session.abandon();
    else runDir.release();
    throw e;
  } finally {
    progress?.stop();
  }
  report([...warnings, ...run.warnings].filter((d) => d.severity === 'warning'));
  const figures = [...(opts.plot ? [await (await plotModule()).plotRun(dir, undefined)] : []), ...(opts.report ? [await (await reportModule()).reportRun(dir, undefined)] : [])];
  reportNotes(dir, figures.flatMap((f) => f.notes));

  const c = compiled.ir;
  const rows = run.result.trace.rows;
  const t = run.timings;
  const p = run.measures.find((m) => m.name === c.particles);
  if (!opts.quiet) {
    out(`flowc ${c.flow.name}${c.flow.title ? ` — ${c.flow.title}` : ''}\n`);
    if (run.backend.why) out(`  backend    ${run.backend.name} (${run.backend.precision}): ${run.backend.why}\n`);
    else out(`  backend    ${run.backend.name} (${run.backend.precision}, ${run.backend.threads} thread${run.backend.threads === 1 ? '' : 's'}${run.backend.kernels ? `, ${run.backend.kernels}` : ''})${run.backend.scalar_nested_loops ? `; ${run.backend.scalar_nested_loops}` : ''}\n`);
    const how = `metric ${metricText(c.metric)}, ${c.scheme.name} step ${c.scheme.step}, ${run.result.steps}/${c.scheme.steps} steps`;
    if (p) out(`  particles  ${p.name}: ${p.size} points in ${spaceText(c.measures.find((m) => m.name === p.name)!.type)}; ${how}\n`);
    else {
      const vs = c.states.filter((v) => v.role === 'state');
      const space = (d: number) => (d === 1 ? 'R' : `R^${d}`);
      out(`  states     ${vs.map((v) => `${v.name} in ${space(v.dim)}`).join(', ')}; ${how}\n`);
      for (const q of c.models) out(`  model      ${q.name} = push of ${q.base} (${run.measures.find((m) => m.name === q.name)!.size} points in ${space(q.dim)})\n`);
    }
    const critics = c.states.filter((v) => v.role === 'critic');
    if (critics.length) out(`  critics    ${critics.map((v) => `${v.name} in R^${v.dim}, ascent step ${v.ascent!.step} × ${v.ascent!.inner}`).join('; ')}\n`);
    const schedules = [c.noise ? `noise ${c.noise.text}` : '', c.diffusion ? `diffusion ${c.diffusion.text}` : ''].filter(Boolean);
    if (schedules.length) out(`  schedules  ${schedules.join('; ')}\n`);
    // how each w2 (a record column, or a w2(a, b)^2 term of the energy) was computed
    const transport = Object.entries(run.result.transport ?? {});
    if (transport.length)
      out(`  transport  ${transport.map(([k, h]) => `${k}: ${h.method === 'exact' ? 'exact assignment' : `sinkhorn, eps ${h.eps}`}`).join('; ')}\n`);
    const inner = run.result.inner;
    if (inner && run.result.steps)
      out(`  ${inner.kind === 'jko' ? 'jko inner' : 'dab CG   '}  ${(inner.total / run.result.steps).toFixed(1)} iterations/step on average, at most ${inner.max} (limit ${inner.limit}, tolerance ${inner.tolerance})\n`);
    if (rows.length) out(`  ${c.energy.name.padEnd(9)}  ${num(rows[0][2])} at step 0 → ${num(rows[rows.length - 1][2])} at step ${rows[rows.length - 1][0]}\n`);
    const perStep = run.result.steps ? ` (${ms(t.steps / run.result.steps)}/step)` : '';
    out(`  time       compile ${ms(t.compile)} · inputs ${ms(t.inputs)} · kernels ${ms(t.kernels)} · setup ${ms(t.setup)} · steps ${ms(t.steps)}${perStep} · record ${ms(t.record)} · write ${ms(writeMs)}\n`);
    out(`  wrote      ${dir}${path.sep}{${files.join(', ')}}\n`);
    for (const f of figures) out(`  wrote      ${f.file}\n`);
  }
  const div = divergenceDiagnostic(spec, run);
  if (div) {
    report([div]);
    return 1;
  }
  const sig = signals.signal();
  if (run.result.status === 'interrupted' && sig) {
    err(
      `flowc: interrupted by ${sig} after step ${run.result.steps} of ${c.scheme.steps}: "${dir}" holds ${run.result.records} record${run.result.records === 1 ? '' : 's'} and a checkpoint; continue with: flowc run ${spec} --resume ${dir}\n`,
    );
    return signalExitCode(sig);
  }
  return 0;
}

async function cmdCompile(spec: string, opts: { emit?: string; set: Record<string, number[]>; timings?: boolean }): Promise<number> {
  if (opts.emit === 'ast') {
    const r = compileFile(spec, { set: opts.set });
    if (!r.ast) throw new FlowError(r.diagnostics);
    out(JSON.stringify(r.ast, null, 2) + '\n');
    report(r.diagnostics);
    return r.diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
  }
  if (opts.emit === undefined) return cmdCompileSummary(spec, opts);
  const r = compileFile(spec, { set: opts.set });
  if (!r.compiled || r.diagnostics.some((d) => d.severity === 'error')) throw new FlowError(r.diagnostics);
  const c = r.compiled;
  const { irJson, irText, kernelsText, planText, validateIr } = await import('../compiler/emit.js');
  switch (opts.emit) {
    case 'ir': {
      const json = irJson(c);
      const problems = validateIr(json);
      if (problems.length) throw new Error(`the IR does not match its schema: ${problems.join('; ')}`);
      out(JSON.stringify(json, null, 2) + '\n');
      break;
    }
    case 'ir-text':
      out(irText(c));
      break;
    case 'plan':
      out(planText(c));
      break;
    case 'kernels':
      out(kernelsText(c));
      break;
    case 'wasm':
    case 'wasm-f32': {
      const { wasmText, F32, F64 } = await import('../compiler/codegen-wasm.js');
      out(wasmText(c.plan, c.layout, opts.emit === 'wasm' ? F64 : F32));
      break;
    }
  }
  if (opts.timings) for (const [k, v] of Object.entries(r.timings)) err(`${k.padEnd(10)} ${ms(v)}\n`);
  return 0;
}

async function cmdGolden(spec: string, opts: { set: Record<string, number[]>; steps?: number; threads?: number; rtol?: number; atol?: number }): Promise<number> {
  const t0 = performance.now();
  const { compiled } = compileOrThrow(spec, { set: opts.set, steps: opts.steps });
  const run = await runCompiled(compiled, { set: opts.set, steps: opts.steps, threads: opts.threads }, performance.now() - t0);
  const golden = makeGolden(spec, run, VERSION, opts.set, { rtol: opts.rtol ?? DEFAULT_TOLERANCE.rtol, atol: opts.atol ?? DEFAULT_TOLERANCE.atol });
  const file = goldenPath(spec);
  fs.writeFileSync(file, JSON.stringify(golden, null, 1) + '\n');
  out(`wrote ${file} (${golden.trace.rows.length} trace rows, ${Object.keys(golden.final).length} measure(s), rtol ${golden.tolerance.rtol})\n`);
  return 0;
}

/** Specs with a golden file under the given paths (files or folders). */
function findGoldenSpecs(paths: string[]): string[] {
  const found: string[] = [];
  const visit = (p: string) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) throw new FlowError({ severity: 'error', file: p, message: 'no such file or folder' });
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) if (e !== 'node_modules' && !e.startsWith('.')) {
        const full = path.join(p, e);
        if (e.endsWith('.flow') || fs.statSync(full).isDirectory()) visit(full);
      }
    } else if (p.endsWith('.flow') && fs.existsSync(goldenPath(p))) found.push(p);
    else if (p.endsWith('.flow') && paths.includes(p)) throw new FlowError({ severity: 'error', file: p, message: `no golden file ${goldenPath(p)}; create it with: flowc golden ${p}` });
  };
  for (const p of paths) visit(p);
  return found;
}

async function cmdTest(paths: string[], opts: { threads?: number }): Promise<number> {
  const specs = findGoldenSpecs(paths.length ? paths : ['.']);
  if (!specs.length) {
    err(`no golden files found under ${paths.length ? paths.join(', ') : '.'}; create one with: flowc golden SPEC.flow\n`);
    return 1;
  }
  let failed = 0;
  for (const spec of specs) {
    const t0 = performance.now();
    try {
      const golden = readGolden(goldenPath(spec));
      const { compiled } = compileOrThrow(spec, { set: golden.set, steps: golden.steps });
      const run = await runCompiled(compiled, { threads: opts.threads });
      const diffs = compareGolden(golden, run);
      if (diffs.length) {
        failed++;
        out(`FAIL ${spec} (${ms(performance.now() - t0)})\n${diffs.slice(0, 20).map((d) => `  ${d}\n`).join('')}`);
        if (diffs.length > 20) out(`  ... and ${diffs.length - 20} more\n`);
      } else out(`ok   ${spec} (${ms(performance.now() - t0)})\n`);
    } catch (e) {
      failed++;
      out(`FAIL ${spec}\n`);
      if (e instanceof FlowError) report(e.diagnostics);
      else err(`  ${(e as Error).message}\n`);
    }
  }
  out(`${specs.length - failed} passed, ${failed} failed\n`);
  return failed ? 1 : 0;
}

function parsePrecision(text: string): 'float64' | 'float32' {
  if (text === 'float64' || text === 'float32') return text;
  throw new InvalidArgumentError(`expected float64 or float32; got '${text}'`);
}

/** A signal that bin/flowc.js caught while flowc was loading (see there). */
let earlySignal: NodeJS.Signals | undefined;

const signalExitCode = (sig: NodeJS.Signals) => (sig === 'SIGINT' ? 130 : 143);

interface SignalHub {
  early?: NodeJS.Signals;
  on?: (sig: NodeJS.Signals) => void;
  attach(): void;
  detach(): void;
}

/** bin/flowc.js's SIGINT/SIGTERM handler: a signal held while flowc loaded, what the handler calls now, and whether it is installed. Absent when main() is called without bin/flowc.js (tests). */
function signalHub(): SignalHub | undefined {
  return (globalThis as { flowcSignals?: SignalHub }).flowcSignals;
}

/**
 * Take over the signals bin/flowc.js held during start-up. run keeps its
 * handler (a signal stops the run after its first step, with valid files);
 * every other command ends now if one came, and gets the default action back,
 * so that Ctrl-C stops it at once even inside a long compile (a JS handler
 * waits for the synchronous work to end).
 */
function takeEarlySignals(argv: string[]): void {
  const hub = signalHub();
  if (!hub) return;
  earlySignal = hub.early;
  hub.early = undefined;
  if (argv[0] === 'run') {
    hub.on = (sig) => process.exit(signalExitCode(sig));
    return;
  }
  if (earlySignal) process.exit(signalExitCode(earlySignal));
  hub.on = undefined;
  hub.detach();
}

export async function main(argv: string[]): Promise<number> {
  takeEarlySignals(argv);
  let code = 0;
  const program = new Command('flowc')
    .description('compile and run gradient flows on probability measures')
    .version(VERSION, '-v, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError("(run 'flowc --help' for usage)")
    .configureOutput({ writeOut: out, writeErr: err });
  // no default value: commander would print it in the help as '(default: {})'
  const setOpt = ['--set <NAME=VALUE>', 'override a let constant (repeatable)', (t: string, acc?: Record<string, number[]>) => wrapArg(() => parseSet(t, acc))] as const;
  const threadsOpt = ['--threads <n>', `threads of the cpu backend (default: every core from ${PARALLEL_MIN_PARTICLES} particles on, else 1)`, parseThreads] as const;

  program
    .command('run')
    .description('run a spec and write run.json, trace.csv and NAME.npy')
    .argument('<spec>', 'the .flow file')
    .option('--out <dir>', 'output folder (default: runs/FLOW_NAME)')
    .option(...setOpt)
    .option('--steps <n>', 'override the number of steps', parseCount)
    .option('--seed <n>', "override the spec's seed", parseCount)
    .option('--backend <name>', 'cpu (WebAssembly SIMD on every core), cpu:js (generated JavaScript, float64), or gpu[:auto|webgpu|headlessgl|webasm|cpu] (gpu.js kernels, float32; see flowc doctor)', parseBackend, 'cpu')
    .option('--precision <p>', 'float64 or float32 (the cpu backend\'s WebAssembly kernels: f64x2 or f32x4)', parsePrecision, 'float64')
    .option(...threadsOpt)
    .option('--force', 'replace the run in an existing output folder (written beside it, swapped in at the end; files flowc did not write are kept)')
    .option('--resume <dir>', 'continue the interrupted run in DIR from its last checkpoint, appending to its files')
    .option('--checkpoint-every <k>', 'save the full state every K steps (like `checkpoint every K` in the spec)', parseCount)
    .option('--quiet', 'print nothing but errors (and no progress bar)')
    .option('--plot', 'also write RUN_DIR/plot.svg (see flowc plot)')
    .option('--report', 'also write RUN_DIR/report.html (see flowc report)')
    .action(async (spec, opts) => {
      code = await cmdRun(spec, opts);
    });
  program
    .command('sweep')
    .description('run every combination of a grid, every seed and every spec as separate run folders, with DIR/summary.csv')
    .argument('<specs...>', 'the .flow files (or one sweep folder, with --task, --collect or --resume)')
    .option('--grid <NAME=V1,V2,...>', 'values of a let constant (repeatable: every combination)', (t: string, acc: { name: string; values: number[] }[]) => [...acc, wrapArg(() => parseGrid(t))], [])
    .option('--seeds <A..B>', 'seeds A to B (or a list 1,4,9), each overriding the spec\'s seed', (t: string) => wrapArg(() => parseSeeds(t)))
    .option('--jobs <n>', 'runs at once (default: every core)', parseThreads)
    .option('--threads <n>', 'threads of each run (default 1)', parseThreads)
    .option('--steps <n>', 'override the number of steps of every run', parseCount)
    .option('--out <dir>', 'the sweep folder (default: sweeps/SPEC_NAME)')
    .option('--resume', 'finish a sweep folder: skip the runs already complete')
    .option('--task <k>', 'run task K of a sweep folder (what each Slurm array task runs)', parseCount)
    .option('--collect', 'write the summary of a sweep folder and say which runs are missing or failed')
    .option('--slurm', 'submit the runs as a Slurm job array (sbatch) instead of running them here')
    .option('--partition <p>', 'Slurm partition')
    .option('--time <HH:MM:SS>', 'Slurm time limit of each task')
    .option('--dry-run', 'with --slurm: write DIR/sweep.sbatch without submitting it')
    .option('--quiet', 'no progress line')
    .action(async (specs: string[], opts) => {
      code = await (await import('./sweep.js')).cmdSweep(specs, opts);
    });
  program
    .command('check')
    .description('parse, type-check and load the data of a spec; diagnostics only')
    .argument('<spec>')
    .option(...setOpt)
    .action((spec, opts) => {
      code = cmdCheck(spec, opts);
    });
  program
    .command('compile')
    .description('print a stage of the compilation')
    .argument('<spec>')
    .option('--emit <what>', 'ast | ir | ir-text | plan | kernels | wasm | wasm-f32 (default: a short summary)')
    .option(...setOpt)
    .option('--timings', 'print the time of each compiler stage on stderr')
    .action(async (spec, opts) => {
      if (opts.emit !== undefined && !['ast', 'ir', 'ir-text', 'plan', 'kernels', 'wasm', 'wasm-f32'].includes(opts.emit))
        throw new CommanderError(2, 'flowc.emit', `error: --emit must be one of ast, ir, ir-text, plan, kernels, wasm, wasm-f32 (got '${opts.emit}')\n`);
      code = await cmdCompile(spec, opts);
    });
  program
    .command('golden')
    .description('run a spec and write SPEC.golden.json for `flowc test`')
    .argument('<spec>')
    .option(...setOpt)
    .option('--steps <n>', 'override the number of steps', parseCount)
    .option('--rtol <x>', `relative tolerance (default ${DEFAULT_TOLERANCE.rtol})`, parseTol)
    .option('--atol <x>', `absolute tolerance (default ${DEFAULT_TOLERANCE.atol})`, parseTol)
    .option(...threadsOpt)
    .action(async (spec, opts) => {
      code = await cmdGolden(spec, opts);
    });
  program
    .command('test')
    .description('re-run every spec with a golden file and compare')
    .argument('[paths...]', 'spec files or folders (default: the current folder)')
    .option(...threadsOpt)
    .action(async (paths: string[], opts) => {
      code = await cmdTest(paths, opts);
    });

  program
    .command('plot')
    .description('draw the energy curve and the particles of a run folder, or the curves and final values of a sweep folder (SVG, or PNG)')
    .argument('<run_dir>', 'a folder written by flowc run (or flowc sweep)')
    .option('--out <file>', 'FILE.svg or FILE.png (default: RUN_DIR/plot.svg)')
    .option('--coords <i,j>', 'the two coordinates of the scatter, 0-based (default 0,1)', parseCoords)
    .option('--records <steps>', 'recorded steps whose particles are drawn (default: the first and the last)', parseSteps)
    .option('--columns <names>', 'recorded scalars drawn as curves (default: the energy; a sweep: one column)')
    .option('--no-trajectories', "leave out the particles' trajectories (the faint lines of the scatter)")
    .option('--by <name>', 'a sweep: the grid parameter of the final-value panel (default: the first)')
    .action(async (dir, opts) => {
      const sweep = await import('../draw/sweep.js');
      if (sweep.isSweepFolder(dir)) {
        const { file, notes } = await sweep.plotSweep(dir, opts.out, { column: opts.columns, by: opts.by });
        reportNotes(dir, notes);
        out(`wrote ${file}\n`);
      } else code = await cmdPlot(dir, opts);
    });
  program
    .command('report')
    .description('write one self-contained HTML page: the spec, the figures, the plots, an animation')
    .argument('<run_dir>', 'a folder written by flowc run (or flowc sweep: its table and figure)')
    .option('--out <file>', 'FILE.html (default: RUN_DIR/report.html)')
    .action(async (dir, opts) => {
      const sweep = await import('../draw/sweep.js');
      const { file, notes } = sweep.isSweepFolder(dir) ? await sweep.reportSweep(dir, opts.out) : await (await reportModule()).reportRun(dir, opts.out);
      reportNotes(dir, notes);
      out(`wrote ${file}\n`);
    });
  program
    .command('doctor')
    .description('list the gpu.js modes this machine offers, why the others are missing, and a timing of each')
    .action(async () => {
      code = await (await import('./doctor.js')).cmdDoctor(out);
    });
  program
    .command('playground')
    .description('serve the browser playground (built by `npm run playground`) on 127.0.0.1 and print its address')
    .option('--port <n>', 'the port (0: any free one)', parsePort, 8737)
    .option('--dir <folder>', 'serve this built playground instead of playground/dist')
    .action(async (opts) => {
      code = await (await import('./playground.js')).servePlayground(opts, out);
    });
  program
    .command('init')
    .description('write NAME.flow, a commented starter spec that runs as is')
    .argument('<name>', 'the file to write (.flow is added)')
    .action((name) => {
      const file = initSpec(name);
      out(`wrote ${file}; run it with: flowc run ${file} --plot --report\n`);
    });

  // an absent --set is an empty set of overrides
  program.hook('preAction', (_, action) => {
    if (action.options.some((o) => o.long === '--set') && action.getOptionValue('set') === undefined) action.setOptionValue('set', {});
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'flowc.emit') err(e.message);
      return e.exitCode === 0 ? 0 : 2;
    }
    return failure(e);
  }
}

function metricText(m: FlowIR['metric']): string {
  switch (m.name) {
    case 'WFR':
      return `WFR(a = ${m.a}, b = ${m.b})`;
    case 'dab':
      return `dab(alpha = ${m.alpha}, beta = ${m.beta}; ${m.kernel})${m.on ? ` on ${m.on}` : ''}`;
    case 'W2natural':
      return `W2natural(eps = ${m.eps}, lambda = ${m.lambda}, basis = ${m.basis}; ${m.kernel}) on ${m.on}`;
    case 'KL':
      return m.eps !== undefined ? `KL(eps = ${m.eps}) on ${m.on}` : 'KL';
    default:
      return m.name;
  }
}
