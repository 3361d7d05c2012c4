// The flowc command line: run | check | compile | golden | test.
// Every failure prints diagnostics (file:line:column) and returns a non-zero
// exit code; a stack trace appears only with FLOWC_DEBUG=1.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { compileFile, compileOrThrow, prepareInputs, runCompiled, type FlowRun } from '../api.js';
import { FlowError, formatDiagnostic, type Diagnostic } from '../compiler/diagnostics.js';
import { irJson, irText, kernelsText, planText, validateIr } from '../compiler/emit.js';
import { ensureFreshDir } from '../runtime/files.js';
import { writeRunFiles } from '../runtime/outputs.js';
import { compareGolden, goldenPath, makeGolden, readGolden, DEFAULT_TOLERANCE } from './golden.js';

export const VERSION: string = (() => {
  try {
    const pkg = fileURLToPath(new URL('../../../package.json', import.meta.url));
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

const out = (s: string) => process.stdout.write(s);
const err = (s: string) => process.stderr.write(s);

/** Print diagnostics with the source line and a caret where the file is readable. */
function report(diags: Diagnostic[]): void {
  const sources = new Map<string, string | undefined>();
  for (const d of diags) {
    if (!sources.has(d.file)) {
      try {
        sources.set(d.file, fs.readFileSync(d.file, 'utf8'));
      } catch {
        sources.set(d.file, undefined);
      }
    }
    err(formatDiagnostic(d, sources.get(d.file)) + '\n');
  }
}

/** `--set NAME=VALUE` with VALUE a number or a vector `[a, b]`. */
function parseSet(text: string, acc: Record<string, number[]>): Record<string, number[]> {
  const m = /^([^=\s]+)\s*=\s*(.+)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`expected NAME=VALUE, got '${text}'`);
  const raw = m[2].trim();
  const items = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1).split(',') : [raw];
  const values = items.map((s) => s.trim());
  if (!values.length || values.some((v) => !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)))
    throw new InvalidArgumentError(`the value of ${m[1]} must be a number or a vector like [1, 2], got '${raw}'`);
  return { ...acc, [m[1]]: values.map(Number) };
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got '${text}'`);
  return n;
}

function parseTol(text: string): number {
  const n = Number(text);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected a number ≥ 0, got '${text}'`);
  return n;
}

const ms = (x: number) => (x < 10 ? `${x.toFixed(1)} ms` : x < 10000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`);
const num = (x: number) => (Number.isFinite(x) ? x.toPrecision(6) : String(x));

function divergenceDiagnostic(file: string, run: FlowRun): Diagnostic | undefined {
  const d = run.result.divergence;
  if (!d) return undefined;
  const rows = run.result.trace.rows;
  return {
    severity: 'error',
    file,
    message: `the run diverged at step ${d.step}: ${d.quantity} is ${d.value}; the outputs keep what was recorded up to step ${rows[rows.length - 1]?.[0] ?? 0} (${rows.length} record${rows.length === 1 ? '' : 's'}); try a smaller step`,
  };
}

function runJson(file: string, run: FlowRun, set: Record<string, number[]>, writeMs: number): object {
  const c = run.compiled;
  const rows = run.result.trace.rows;
  const last = rows[rows.length - 1];
  return {
    flowc: VERSION,
    node: process.version,
    spec: path.resolve(file),
    flow: c.ir.flow,
    status: run.result.status,
    divergence: run.result.divergence,
    backend: run.backend,
    seed: c.ir.seed,
    constants: Object.fromEntries(c.ir.params.map((p) => [p.name, p.value.length === 1 ? p.value[0] : p.value])),
    set,
    metric: c.ir.metric,
    scheme: c.ir.scheme,
    steps: run.result.steps,
    measures: run.measures.map((m) => {
      const decl = c.ir.measures.find((x) => x.name === m.name)!;
      return { name: m.name, role: decl.role, points: m.size, dim: m.dim, source: decl.source.kind === 'file' ? decl.source.path : 'distribution' };
    }),
    timings_ms: { ...run.timings, write: writeMs },
    final: last ? Object.fromEntries(run.result.trace.columns.map((col, k) => [col, last[k]])) : {},
  };
}

async function cmdRun(spec: string, opts: { out?: string; set: Record<string, number[]>; steps?: number; force?: boolean; quiet?: boolean }): Promise<number> {
  const t0 = performance.now();
  const { compiled, warnings } = compileOrThrow(spec, { set: opts.set, steps: opts.steps });
  const compileMs = performance.now() - t0;
  const dir = opts.out ?? path.join('runs', compiled.ir.flow.name);
  // fail on the output folder before spending time on the run
  ensureFreshDir(dir, !!opts.force);
  const run = await runCompiled(compiled, { set: opts.set, steps: opts.steps }, compileMs);
  report([...warnings, ...run.warnings].filter((d) => d.severity === 'warning'));
  const w0 = performance.now();
  let files = writeRunFiles(dir, run.result, runJson(spec, run, opts.set, 0));
  const writeMs = performance.now() - w0;
  files = writeRunFiles(dir, run.result, runJson(spec, run, opts.set, writeMs));

  const c = compiled.ir;
  const rows = run.result.trace.rows;
  const t = run.timings;
  const p = run.measures.find((m) => m.name === c.particles)!;
  if (!opts.quiet) {
    out(`flowc ${c.flow.name}${c.flow.title ? ` — ${c.flow.title}` : ''}\n`);
    out(`  backend    ${run.backend.name} (${run.backend.precision})\n`);
    out(`  particles  ${p.name}: ${p.size} points in R^${p.dim}; metric ${c.metric.name}, ${c.scheme.name} step ${c.scheme.step}, ${run.result.steps}/${c.scheme.steps} steps\n`);
    if (rows.length) out(`  ${c.energy.name.padEnd(9)}  ${num(rows[0][2])} at step 0 → ${num(rows[rows.length - 1][2])} at step ${rows[rows.length - 1][0]}\n`);
    const perStep = run.result.steps ? ` (${ms(t.steps / run.result.steps)}/step)` : '';
    out(`  time       compile ${ms(t.compile)} · inputs ${ms(t.inputs)} · setup ${ms(t.setup)} · steps ${ms(t.steps)}${perStep} · record ${ms(t.record)} · write ${ms(writeMs)}\n`);
    out(`  wrote      ${dir}${path.sep}{${files.join(', ')}}\n`);
  }
  const div = divergenceDiagnostic(spec, run);
  if (div) {
    report([div]);
    return 1;
  }
  return 0;
}

function cmdCheck(spec: string, opts: { set: Record<string, number[]> }): number {
  const { compiled, warnings } = compileOrThrow(spec, { set: opts.set });
  const inputs = prepareInputs(compiled);
  report([...warnings, ...inputs.warnings]);
  out(`${spec}: ok (${compiled.ir.measures.map((m, i) => `${m.name}: ${inputs.measures[i].size} × ${m.dim}`).join(', ')})\n`);
  return 0;
}

function cmdCompile(spec: string, opts: { emit: string; set: Record<string, number[]>; timings?: boolean }): number {
  if (opts.emit === 'ast') {
    const r = compileFile(spec, { set: opts.set });
    if (!r.ast) throw new FlowError(r.diagnostics);
    out(JSON.stringify(r.ast, null, 2) + '\n');
    report(r.diagnostics);
    return r.diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
  }
  const r = compileFile(spec, { set: opts.set });
  if (!r.compiled || r.diagnostics.some((d) => d.severity === 'error')) throw new FlowError(r.diagnostics);
  const c = r.compiled;
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
  }
  if (opts.timings) for (const [k, v] of Object.entries(r.timings)) err(`${k.padEnd(10)} ${ms(v)}\n`);
  return 0;
}

async function cmdGolden(spec: string, opts: { set: Record<string, number[]>; steps?: number; rtol?: number; atol?: number }): Promise<number> {
  const t0 = performance.now();
  const { compiled } = compileOrThrow(spec, { set: opts.set, steps: opts.steps });
  const run = await runCompiled(compiled, { set: opts.set, steps: opts.steps }, performance.now() - t0);
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

async function cmdTest(paths: string[]): Promise<number> {
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
      const run = await runCompiled(compiled, {});
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

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('flowc')
    .description('compile and run gradient flows on probability measures')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError("(run 'flowc --help' for usage)")
    .configureOutput({ writeOut: out, writeErr: err });
  const setOpt = ['--set <NAME=VALUE>', 'override a let constant (repeatable)', parseSet, {}] as const;

  program
    .command('run')
    .description('run a spec and write run.json, trace.csv and NAME.npy')
    .argument('<spec>', 'the .flow file')
    .option('--out <dir>', 'output folder (default: runs/FLOW_NAME)')
    .option(...setOpt)
    .option('--steps <n>', 'override the number of steps', parseCount)
    .option('--backend <name>', 'backend (cpu)', 'cpu')
    .option('--force', 'overwrite the files of an existing output folder')
    .option('--quiet', 'print nothing but errors')
    .action(async (spec, opts) => {
      if (opts.backend !== 'cpu') throw new FlowError({ severity: 'error', file: spec, message: `not supported yet: --backend ${opts.backend}; this version has the cpu backend` });
      code = await cmdRun(spec, opts);
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
    .option('--emit <what>', 'ast | ir | ir-text | plan | kernels', 'ir')
    .option(...setOpt)
    .option('--timings', 'print the time of each compiler stage on stderr')
    .action((spec, opts) => {
      if (!['ast', 'ir', 'ir-text', 'plan', 'kernels'].includes(opts.emit))
        throw new CommanderError(2, 'flowc.emit', `error: --emit must be one of ast, ir, ir-text, plan, kernels (got '${opts.emit}')\n`);
      code = cmdCompile(spec, opts);
    });
  program
    .command('golden')
    .description('run a spec and write SPEC.golden.json for `flowc test`')
    .argument('<spec>')
    .option(...setOpt)
    .option('--steps <n>', 'override the number of steps', parseCount)
    .option('--rtol <x>', `relative tolerance (default ${DEFAULT_TOLERANCE.rtol})`, parseTol)
    .option('--atol <x>', `absolute tolerance (default ${DEFAULT_TOLERANCE.atol})`, parseTol)
    .action(async (spec, opts) => {
      code = await cmdGolden(spec, opts);
    });
  program
    .command('test')
    .description('re-run every spec with a golden file and compare')
    .argument('[paths...]', 'spec files or folders (default: the current folder)')
    .action(async (paths: string[]) => {
      code = await cmdTest(paths);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'flowc.emit') err(e.message);
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof FlowError) {
      report(e.diagnostics);
      return 1;
    }
    err(`flowc: internal error: ${e instanceof Error ? e.message : String(e)}\n(this is a bug in flowc; rerun with FLOWC_DEBUG=1 for details)\n`);
    if (process.env.FLOWC_DEBUG) err(`${(e as Error).stack}\n`);
    return 70;
  }
}
