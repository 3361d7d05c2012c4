// The commands that need only the front end: `flowc check` and `flowc
// compile`'s summary; and what every command shares for its diagnostics:
// report() prints them with the source line, failure() turns an exception
// into the exit code. This file imports only the front end (parser,
// compiler, data loading), so that it can also be built on its own into
// dist/front.cjs, the start-up path of these commands (src/cli/fast-start.ts,
// docs/decisions.md "How fast does check start?"); src/cli/main.ts uses the
// same functions.

import fs from 'node:fs';
import { compileFile, compileOrThrow, prepareInputs } from '../front.js';
import { compileSummary } from './compile-summary.js';
import { FlowError, formatDiagnostic, type Diagnostic } from '../compiler/diagnostics.js';

export const out = (s: string) => process.stdout.write(s);
export const err = (s: string) => process.stderr.write(s);

/** Print diagnostics with the source line and a caret where the file is readable. */
export function report(diags: Diagnostic[]): void {
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

/** The exit code of a command that threw: diagnostics 1, anything else is flowc's bug, 70 (no stack trace unless FLOWC_DEBUG=1). */
export function failure(e: unknown): number {
  if (e instanceof FlowError) {
    report(e.diagnostics);
    return 1;
  }
  err(`flowc: internal error: ${e instanceof Error ? e.message : String(e)}\n(this is a bug in flowc; rerun with FLOWC_DEBUG=1 for details)\n`);
  if (process.env.FLOWC_DEBUG) err(`${(e as Error).stack}\n`);
  return 70;
}

/** `--set NAME=VALUE` with VALUE a number or a vector `[a, b]`; throws an Error whose message is the usage error. */
export function parseSet(text: string, acc: Record<string, number[]> = {}): Record<string, number[]> {
  const m = /^([^=\s]+)\s*=\s*(.+)$/.exec(text);
  if (!m) throw new Error(`expected NAME=VALUE, got '${text}'`);
  const raw = m[2].trim();
  const items = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1).split(',') : [raw];
  const values = items.map((s) => s.trim());
  if (!values.length || values.some((v) => !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)))
    throw new Error(`the value of ${m[1]} must be a number or a vector like [1, 2], got '${raw}'`);
  const numbers = values.map(Number);
  if (numbers.some((x) => !Number.isFinite(x))) throw new Error(`the value of ${m[1]} must be a finite number, got '${raw}' (beyond ±1.8e308)`);
  return { ...acc, [m[1]]: numbers };
}

/** Parse, type-check and load the data of a spec: warnings on stderr, one line on stdout. */
export function cmdCheck(spec: string, opts: { set: Record<string, number[]> }): number {
  const { compiled, warnings } = compileOrThrow(spec, { set: opts.set });
  const inputs = prepareInputs(compiled);
  report([...warnings, ...inputs.warnings]);
  out(`${spec}: ok (${compiled.ir.measures.map((m, i) => `${m.name}: ${inputs.measures[i].size} × ${m.dim}`).join(', ')})\n`);
  return 0;
}

/** `flowc compile SPEC` without --emit: the short summary (measures, programs, stages, time per compiler stage). */
export function cmdCompileSummary(spec: string, opts: { set: Record<string, number[]> }): number {
  const r = compileFile(spec, { set: opts.set });
  if (!r.compiled || r.diagnostics.some((d) => d.severity === 'error')) throw new FlowError(r.diagnostics);
  out(compileSummary(r.compiled, r.timings));
  return 0;
}

/**
 * `check SPEC [--set NAME=VALUE]...` or `compile SPEC [--set NAME=VALUE]...
 * [--timings]` as the full command line would run them, or undefined for any
 * other arguments (--emit, help, an unknown option, a bad --set, two specs):
 * the full command line (commander) answers those, with its usage errors.
 */
export function frontArgv(argv: string[]): { command: 'check' | 'compile'; spec: string; set: Record<string, number[]> } | undefined {
  const command = argv[0];
  if (command !== 'check' && command !== 'compile') return undefined;
  let spec: string | undefined;
  let set: Record<string, number[]> = {};
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = a === '--set' ? argv[++i] : a.startsWith('--set=') ? a.slice(6) : undefined;
    if (value !== undefined) {
      try {
        set = parseSet(value, set);
      } catch {
        return undefined;
      }
    } else if (command === 'compile' && a === '--timings') continue; // the summary has the compiler's times already
    else if (a === '--set' || a.startsWith('-') || spec !== undefined) return undefined;
    else spec = a;
  }
  return spec === undefined ? undefined : { command, spec, set };
}

/** A front-end command on the start-up path: the exit code, or undefined when the full command line must answer. */
export function runFrontCommand(argv: string[]): number | undefined {
  const args = frontArgv(argv);
  if (!args) return undefined;
  try {
    return (args.command === 'check' ? cmdCheck : cmdCompileSummary)(args.spec, { set: args.set });
  } catch (e) {
    return failure(e);
  }
}
