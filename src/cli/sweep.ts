// `flowc sweep`: a study of many runs (src/study/sweep.ts), locally on J
// parallel workers or as a Slurm job array.
//
//   flowc sweep SPEC... [--grid NAME=V1,V2,...]... [--seeds A..B] [--jobs J] [--out DIR] [--resume]
//   flowc sweep SPEC... ... --slurm [--partition P] [--time HH:MM:SS] [--dry-run]
//   flowc sweep DIR --task K        (one run of a sweep folder: what each Slurm array task runs)
//   flowc sweep DIR --collect       (the summary of a sweep folder, saying which runs are missing or failed)
//   flowc sweep DIR --resume        (finish a sweep folder: only the runs not complete)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FlowError, error } from '../compiler/diagnostics.js';
import { VERSION } from '../run-folder.js';
import { err, out } from './front-commands.js';
import {
  collect,
  execute,
  isComplete,
  makePlan,
  readPlan,
  runTask,
  slurmScript,
  writePlan,
  writeSummary,
  type Progress,
  type SweepPlan,
} from '../study/sweep.js';

export interface SweepOptions {
  grid: { name: string; values: number[] }[];
  seeds?: number[];
  jobs?: number;
  threads?: number;
  steps?: number;
  out?: string;
  resume?: boolean;
  task?: number;
  collect?: boolean;
  slurm?: boolean;
  partition?: string;
  time?: string;
  dryRun?: boolean;
  quiet?: boolean;
}

function fail(where: string, message: string): never {
  throw new FlowError(error(where, undefined, message));
}

function isSweepDir(p: string): boolean {
  return fs.existsSync(path.join(p, 'sweep.json'));
}

function eta(p: Progress): string {
  const finished = p.done;
  const left = p.total - p.skipped - finished;
  if (!finished || !left) return '';
  const s = (p.elapsed / finished) * left;
  return ` · ETA ${s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`}`;
}

export async function cmdSweep(args: string[], opts: SweepOptions): Promise<number> {
  if (!args.length) fail('flowc sweep', 'give the specs to run (or a sweep folder with --task, --collect or --resume)');
  // an existing sweep folder: one task, the summary, or the rest of its runs
  if (args.length === 1 && isSweepDir(args[0])) {
    const dir = args[0];
    const plan = readPlan(dir);
    if (opts.task !== undefined) return task(plan, dir, opts.task, opts.threads ?? 1);
    if (opts.collect) return summarise(plan, dir, true);
    if (!opts.resume) fail(dir, 'this is a sweep folder: --resume finishes its runs, --collect writes its summary, --task K runs one of them');
    return local(plan, dir, opts);
  }
  if (opts.task !== undefined || opts.collect) fail('flowc sweep', '--task and --collect take a sweep folder (one holding sweep.json)');
  for (const a of args) {
    if (!a.endsWith('.flow')) fail(a, 'expected a .flow spec (or a single sweep folder)');
    if (!fs.existsSync(a)) fail(a, 'no such file');
  }
  const dir = opts.out ?? path.join('sweeps', path.basename(args[0]).replace(/\.flow$/, ''));
  let plan: SweepPlan;
  try {
    plan = makePlan(args, opts.grid, opts.seeds ?? null, VERSION, opts.steps);
  } catch (e) {
    fail('flowc sweep', (e as Error).message);
  }
  if (isSweepDir(dir)) {
    if (!opts.resume) fail(dir, 'a sweep folder already exists here: --resume finishes it (same specs and grid), or choose another --out');
    const old = readPlan(dir);
    const same = JSON.stringify(old.runs) === JSON.stringify(plan.runs) && old.specs.every((s, i) => s.sha256 === plan.specs[i]?.sha256);
    if (!same) fail(dir, 'this sweep folder was made with other specs, grid or seeds; --resume continues only the same study');
  } else if (fs.existsSync(dir) && fs.readdirSync(dir).length) fail(dir, 'the folder exists and is not a sweep folder; choose another --out');
  writePlan(dir, plan);
  if (opts.slurm) return slurm(plan, dir, opts);
  return local(plan, dir, opts);
}

async function local(plan: SweepPlan, dir: string, opts: SweepOptions): Promise<number> {
  const tty = process.stderr.isTTY && process.env.TERM !== 'dumb' && !opts.quiet;
  const t0 = performance.now();
  const line = (p: Progress) =>
    `sweep: ${p.total} runs · ${p.done + p.skipped} done · ${p.running} running · ${p.failed} failed${p.skipped ? ` · ${p.skipped} already complete` : ''}${eta(p)}`;
  const outcomes = await execute(plan, dir, {
    jobs: opts.jobs,
    threads: opts.threads,
    resume: opts.resume,
    onProgress: (p) => {
      if (tty) err(`\r${line(p)}\x1b[K`);
    },
  });
  if (tty) err('\n');
  const failed = outcomes.filter((o) => o.code !== 0 && !isComplete(dir, plan.runs[o.task]));
  for (const f of failed) err(`flowc sweep: run ${plan.runs[f.task].dir} failed${f.error ? `:\n  ${f.error.replace(/\n/g, '\n  ')}` : ''}\n`);
  const code = summarise(plan, dir, false);
  const workers = Math.min(opts.jobs ?? os.availableParallelism(), outcomes.length);
  if (!opts.quiet) out(`  time       ${((performance.now() - t0) / 1000).toFixed(1)} s for ${outcomes.length} run${outcomes.length === 1 ? '' : 's'} on ${workers} worker${workers === 1 ? '' : 's'}\n`);
  return failed.length ? 1 : code;
}

/** Write the summary; with `strict`, say which runs are missing or failed and exit 1 if any. */
function summarise(plan: SweepPlan, dir: string, strict: boolean): number {
  const rows = collect(plan, dir);
  const files = writeSummary(plan, dir, rows);
  const count = (s: string) => rows.filter((r) => r.status === s).length;
  const missing = rows.filter((r) => r.status === 'missing');
  const failed = rows.filter((r) => r.status !== 'ok' && r.status !== 'diverged' && r.status !== 'missing');
  out(`flowc sweep ${dir}: ${rows.length} runs · ${count('ok')} ok · ${count('diverged')} diverged · ${failed.length} failed · ${missing.length} missing\n`);
  out(`  wrote      ${dir}${path.sep}{${files.join(', ')}}\n`);
  if (strict) for (const r of [...missing, ...failed]) err(`flowc sweep: task ${r.task} (${r.dir}) is ${r.status}\n`);
  return strict && (missing.length || failed.length) ? 1 : 0;
}

async function task(plan: SweepPlan, dir: string, k: number, threads: number): Promise<number> {
  const run = plan.runs[k];
  if (!run) fail(dir, `no task ${k}: this sweep has tasks 0 to ${plan.runs.length - 1}`);
  const o = await runTask(plan, run, dir, threads);
  if (o.code !== 0 && o.error) err(o.error + '\n');
  return o.code ?? 1;
}

function slurm(plan: SweepPlan, dir: string, opts: SweepOptions): number {
  const script = slurmScript(plan, dir, { partition: opts.partition, time: opts.time, threads: opts.threads });
  fs.mkdirSync(path.join(dir, 'slurm'), { recursive: true });
  const file = path.join(dir, 'sweep.sbatch');
  fs.writeFileSync(file, script, { mode: 0o755 });
  out(`wrote ${file} (${plan.runs.length} array tasks)\n`);
  if (opts.dryRun) {
    out(`  submit it with: sbatch ${file}; then: flowc sweep ${dir} --collect\n`);
    return 0;
  }
  const r = spawnSync('sbatch', ['--parsable', file], { encoding: 'utf8' });
  if (r.error) fail(file, `sbatch could not be run (${r.error.message}); is Slurm installed here? --dry-run writes the script only`);
  if (r.status !== 0) fail(file, `sbatch refused the job: ${r.stderr.trim() || r.stdout.trim()}`);
  const id = r.stdout.trim();
  fs.writeFileSync(path.join(dir, 'slurm', 'job'), id + '\n');
  out(`  submitted job ${id}; when it is done: flowc sweep ${dir} --collect\n`);
  return 0;
}
