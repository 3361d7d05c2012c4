// Studies: every combination of a grid of let constants, every seed and
// every spec, run as separate run folders (LANGUAGE.md, "Running it").
//
// A sweep folder holds
//   sweep.json               the plan: the specs (path, full text, sha256), the grid, the seeds, one entry per run
//   SPEC/NAME=V,...,seed=S/  one run folder per run, exactly what `flowc run` writes
//   summary.csv, summary.json  one row per run (spec, grid values, seed, status, steps, wall time, final trace values),
//                            and (summary.json, aggregate.csv) median / min / max over seeds per grid point
//
// Each run is a child process running `flowc run` itself, so a run of a
// sweep is identical to the same `flowc run` typed by hand; J of them run at
// once. A failed or diverged run is recorded as such and the sweep goes on.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SweepSpec {
  /** folder name of the spec's runs: the file name without .flow */
  name: string;
  file: string;
  text: string;
  sha256: string;
}

export interface SweepRun {
  /** index of the run (the Slurm array task id) */
  task: number;
  spec: string;
  values: Record<string, number>;
  seed?: number;
  /** run folder, relative to the sweep folder */
  dir: string;
}

export interface SweepPlan {
  flowc: string;
  specs: SweepSpec[];
  grid: { name: string; values: number[] }[];
  seeds: number[] | null;
  steps?: number;
  runs: SweepRun[];
}

/** `--grid NAME=V1,V2,...` */
export function parseGrid(text: string): { name: string; values: number[] } {
  const m = /^([A-Za-z_\u0080-\uffff][\w'\u0080-\uffff]*)\s*=\s*(.+)$/.exec(text.trim());
  if (!m) throw new Error(`--grid: expected NAME=V1,V2,..., got '${text}'`);
  const values = m[2].split(',').map((s) => s.trim());
  const numbers = values.map(Number);
  const bad = values.findIndex((v, i) => v === '' || !Number.isFinite(numbers[i]));
  if (bad >= 0) throw new Error(`--grid ${m[1]}: '${values[bad]}' is not a finite number`);
  if (new Set(numbers).size !== numbers.length) throw new Error(`--grid ${m[1]}: a value appears twice`);
  return { name: m[1], values: numbers };
}

/** `--seeds A..B` (inclusive) or `--seeds 1,4,9` */
export function parseSeeds(text: string): number[] {
  const range = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(text);
  const seeds = range
    ? Array.from({ length: Math.max(0, Number(range[2]) - Number(range[1]) + 1) }, (_, k) => Number(range[1]) + k)
    : text.split(',').map((s) => Number(s.trim()));
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0 || s > 0xffffffff))
    throw new Error(`--seeds: expected A..B or a list of whole numbers ≥ 0, got '${text}'`);
  if (new Set(seeds).size !== seeds.length) throw new Error('--seeds: a seed appears twice');
  return seeds;
}

/** The run folder of one combination: `name=value,...,seed=s` (`default` with no grid and no seeds). */
function runDirName(values: Record<string, number>, seed: number | undefined): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  if (seed !== undefined) parts.push(`seed=${seed}`);
  return parts.length ? parts.join(',') : 'default';
}

export function makePlan(files: string[], grid: SweepPlan['grid'], seeds: number[] | null, version: string, steps?: number): SweepPlan {
  const names = new Map<string, string>();
  const specs = files.map((file): SweepSpec => {
    const text = fs.readFileSync(file, 'utf8');
    const name = path.basename(file).replace(/\.flow$/, '');
    const prev = names.get(name);
    if (prev && path.resolve(prev) !== path.resolve(file)) throw new Error(`two specs are named ${name} (${prev} and ${file}): rename one`);
    names.set(name, file);
    return { name, file: path.resolve(file), text, sha256: crypto.createHash('sha256').update(text).digest('hex') };
  });
  const names2 = grid.map((g) => g.name);
  const dup = names2.find((n, i) => names2.indexOf(n) < i);
  if (dup) throw new Error(`--grid ${dup} is given twice`);
  // every combination, the first grid name varying slowest
  let combos: Record<string, number>[] = [{}];
  for (const g of grid) combos = combos.flatMap((c) => g.values.map((v) => ({ ...c, [g.name]: v })));
  const runs: SweepRun[] = [];
  for (const s of [...new Map(specs.map((x) => [x.name, x])).values()])
    for (const values of combos)
      for (const seed of seeds ?? [undefined])
        runs.push({ task: runs.length, spec: s.name, values, ...(seed !== undefined ? { seed } : {}), dir: path.join(s.name, runDirName(values, seed)) });
  return { flowc: version, specs: [...new Map(specs.map((x) => [x.name, x])).values()], grid, seeds, ...(steps !== undefined ? { steps } : {}), runs };
}

export function writePlan(dir: string, plan: SweepPlan): void {
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.sweep.json.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(plan, null, 2) + '\n');
  fs.renameSync(tmp, path.join(dir, 'sweep.json'));
}

export function readPlan(dir: string): SweepPlan {
  const file = path.join(dir, 'sweep.json');
  if (!fs.existsSync(file)) throw new Error(`${dir} is not a sweep folder (no sweep.json)`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SweepPlan;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** The path of flowc's own command (bin/flowc.js), for the child processes and Slurm scripts. */
export function flowcBin(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'flowc.js');
}

/** The `flowc run` arguments of one run of the sweep. */
export function runArgs(plan: SweepPlan, run: SweepRun, sweepDir: string, threads: number): string[] {
  const spec = plan.specs.find((s) => s.name === run.spec)!;
  const args = ['run', spec.file, '--out', path.join(sweepDir, run.dir), '--force', '--quiet', '--threads', String(threads)];
  for (const [k, v] of Object.entries(run.values)) args.push('--set', `${k}=${v}`);
  if (run.seed !== undefined) args.push('--seed', String(run.seed));
  if (plan.steps !== undefined) args.push('--steps', String(plan.steps));
  return args;
}

/** Whether a run folder holds a finished run (ok or diverged: a diverged run is a result). */
export function isComplete(sweepDir: string, run: SweepRun): boolean {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(sweepDir, run.dir, 'run.json'), 'utf8')) as { status?: string };
    return json.status === 'ok' || json.status === 'diverged';
  } catch {
    return false;
  }
}

export interface RunOutcome {
  task: number;
  code: number | null;
  seconds: number;
  /** the first lines of stderr when the run failed */
  error?: string;
}

/** An interrupted run (run.json says it is still running) with a checkpoint to continue from. */
export function resumable(sweepDir: string, run: SweepRun): boolean {
  const dir = path.join(sweepDir, run.dir);
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { status?: string; checkpoint?: unknown };
    return json.status === 'running' && json.checkpoint !== undefined && fs.existsSync(path.join(dir, 'checkpoint.bin'));
  } catch {
    return false;
  }
}

/**
 * Run one task of the sweep as a child `flowc run`; resolves when it ends.
 * An interrupted run with a checkpoint continues from it (`flowc run --resume`,
 * bit for bit); if that is refused, the run starts again.
 */
export async function runTask(plan: SweepPlan, run: SweepRun, sweepDir: string, threads: number): Promise<RunOutcome> {
  if (resumable(sweepDir, run)) {
    const spec = plan.specs.find((s) => s.name === run.spec)!;
    const o = await spawnFlowc(['run', spec.file, '--resume', path.join(sweepDir, run.dir), '--quiet', '--threads', String(threads)], run.task);
    if (o.code === 0 || isComplete(sweepDir, run)) return o;
  }
  return spawnFlowc(runArgs(plan, run, sweepDir, threads), run.task);
}

function spawnFlowc(args: string[], task: number): Promise<RunOutcome> {
  const t0 = performance.now();
  const run = { task };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [flowcBin(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4000) stderr += b.toString();
    });
    child.on('error', (e) => resolve({ task: run.task, code: null, seconds: (performance.now() - t0) / 1000, error: e.message }));
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      resolve({ task: run.task, code, seconds, ...(code === 0 ? {} : { error: stderr.trim().split('\n').slice(0, 3).join('\n') }) });
    });
  });
}

export interface Progress {
  total: number;
  done: number;
  running: number;
  failed: number;
  skipped: number;
  elapsed: number;
}

/** Run the runs of a plan that are not complete, `jobs` at a time. */
export async function execute(
  plan: SweepPlan,
  sweepDir: string,
  options: { jobs?: number; threads?: number; resume?: boolean; onProgress?: (p: Progress) => void },
): Promise<RunOutcome[]> {
  const jobs = Math.max(1, options.jobs ?? os.availableParallelism());
  const threads = options.threads ?? 1;
  const todo = plan.runs.filter((r) => !(options.resume && isComplete(sweepDir, r)));
  const p: Progress = { total: plan.runs.length, done: 0, running: 0, failed: 0, skipped: plan.runs.length - todo.length, elapsed: 0 };
  const t0 = performance.now();
  const outcomes: RunOutcome[] = [];
  let next = 0;
  const tick = () => {
    p.elapsed = (performance.now() - t0) / 1000;
    options.onProgress?.({ ...p });
  };
  const worker = async () => {
    while (next < todo.length) {
      const run = todo[next++];
      p.running++;
      tick();
      const o = await runTask(plan, run, sweepDir, threads);
      p.running--;
      p.done++;
      // exit 1 with a run.json saying 'diverged' is a result, not a failure
      if (o.code !== 0 && !isComplete(sweepDir, run)) p.failed++;
      outcomes.push(o);
      tick();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, todo.length) }, worker));
  tick();
  return outcomes.sort((a, b) => a.task - b.task);
}

// ------------------------------------------------------------ summaries

export interface SummaryRow {
  task: number;
  spec: string;
  values: Record<string, number>;
  seed: number | null;
  status: string;
  steps: number | null;
  wall_s: number | null;
  /** the last row of the run's trace.csv, by column */
  final: Record<string, number>;
  dir: string;
}

function readTraceLast(file: string): Record<string, number> {
  const text = fs.readFileSync(file, 'utf8').trim().split('\n');
  const header = parseCsvLine(text[0]);
  const last = parseCsvLine(text[text.length - 1]).map(Number);
  return text.length < 2 ? {} : Object.fromEntries(header.map((h, k) => [h, last[k]]));
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** One row per run of the plan, from the run folders (missing ones: status 'missing'). */
export function collect(plan: SweepPlan, sweepDir: string): SummaryRow[] {
  return plan.runs.map((run) => {
    const base = { task: run.task, spec: run.spec, values: run.values, seed: run.seed ?? null, dir: run.dir };
    let json: { status?: string; steps?: number; timings_ms?: Record<string, number>; seed?: number };
    try {
      json = JSON.parse(fs.readFileSync(path.join(sweepDir, run.dir, 'run.json'), 'utf8'));
    } catch {
      return { ...base, status: 'missing', steps: null, wall_s: null, final: {} };
    }
    let final: Record<string, number> = {};
    try {
      final = readTraceLast(path.join(sweepDir, run.dir, 'trace.csv'));
    } catch {
      /* a run that failed before its first record */
    }
    const t = json.timings_ms ?? {};
    const wall = Object.values(t).reduce((s, v) => s + (typeof v === 'number' ? v : 0), 0) / 1000;
    return { ...base, seed: run.seed ?? json.seed ?? null, status: json.status ?? 'failed', steps: json.steps ?? null, wall_s: wall, final };
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export interface AggregateRow {
  spec: string;
  values: Record<string, number>;
  runs: number;
  ok: number;
  /** per trace column: median, min, max of the final values over the seeds (runs that recorded it) */
  stats: Record<string, { median: number; min: number; max: number }>;
}

export function aggregate(plan: SweepPlan, rows: SummaryRow[]): AggregateRow[] {
  const groups = new Map<string, SummaryRow[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.spec, r.values]);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  return [...groups.values()].map((g) => {
    const columns = [...new Set(g.flatMap((r) => Object.keys(r.final)))].filter((c) => c !== 'step' && c !== 't');
    const stats: AggregateRow['stats'] = {};
    for (const c of columns) {
      const xs = g.map((r) => r.final[c]).filter((x) => x !== undefined && Number.isFinite(x));
      if (xs.length) stats[c] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
    }
    return { spec: g[0].spec, values: g[0].values, runs: g.length, ok: g.filter((r) => r.status === 'ok').length, stats };
  });
}

const csvCell = (v: string | number | null | undefined) => {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** summary.csv, aggregate.csv and summary.json in the sweep folder; returns the file names. */
export function writeSummary(plan: SweepPlan, sweepDir: string, rows: SummaryRow[]): string[] {
  const gridNames = plan.grid.map((g) => g.name);
  const traceColumns = [...new Set(rows.flatMap((r) => Object.keys(r.final)))].filter((c) => c !== 't');
  const head = ['spec', ...gridNames, 'seed', 'status', 'steps', 'wall_s', ...traceColumns.map((c) => (c === 'step' ? 'final_step' : c))];
  const lines = [head.map(csvCell).join(',')];
  for (const r of rows)
    lines.push([r.spec, ...gridNames.map((g) => r.values[g]), r.seed, r.status, r.steps, r.wall_s, ...traceColumns.map((c) => r.final[c])].map(csvCell).join(','));
  const agg = aggregate(plan, rows);
  const aggColumns = [...new Set(agg.flatMap((a) => Object.keys(a.stats)))];
  const aggHead = ['spec', ...gridNames, 'runs', 'ok', ...aggColumns.flatMap((c) => [`${c}_median`, `${c}_min`, `${c}_max`])];
  const aggLines = [aggHead.map(csvCell).join(',')];
  for (const a of agg)
    aggLines.push(
      [a.spec, ...gridNames.map((g) => a.values[g]), a.runs, a.ok, ...aggColumns.flatMap((c): (number | string)[] => (a.stats[c] ? [a.stats[c].median, a.stats[c].min, a.stats[c].max] : ['', '', '']))]
        .map(csvCell)
        .join(','),
    );
  const write = (name: string, text: string) => {
    const tmp = path.join(sweepDir, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(sweepDir, name));
  };
  write('summary.csv', lines.join('\n') + '\n');
  write('aggregate.csv', aggLines.join('\n') + '\n');
  write('summary.json', JSON.stringify({ grid: plan.grid, seeds: plan.seeds, runs: rows, aggregate: agg }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n');
  return ['summary.csv', 'aggregate.csv', 'summary.json'];
}

// ------------------------------------------------------------ Slurm

/** The sbatch script of a sweep: one array task per run, each running `flowc sweep DIR --task K`. */
export function slurmScript(plan: SweepPlan, sweepDir: string, options: { partition?: string; time?: string; threads?: number }): string {
  const dir = path.resolve(sweepDir);
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=flowc-sweep`,
    `#SBATCH --array=0-${plan.runs.length - 1}`,
    `#SBATCH --cpus-per-task=${options.threads ?? 1}`,
    `#SBATCH --output=${path.join(dir, 'slurm', '%A_%a.out')}`,
    ...(options.partition ? [`#SBATCH --partition=${options.partition}`] : []),
    ...(options.time ? [`#SBATCH --time=${options.time}`] : []),
    '# written by flowc sweep --slurm; each task runs one run of sweep.json',
    `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(flowcBin())} sweep ${JSON.stringify(dir)} --task "$SLURM_ARRAY_TASK_ID" --threads ${options.threads ?? 1}`,
    '',
  ];
  return lines.join('\n');
}
