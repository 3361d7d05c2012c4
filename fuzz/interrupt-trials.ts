// Interruption trials (issue 10): kill `flowc run` with SIGINT, SIGTERM and
// SIGKILL at random moments, N times each; check that every file left parses
// and every record kept is whole; resume from the checkpoint left and compare
// the final positions and trace with an uninterrupted run, byte for byte.
//
//   npx tsx fuzz/interrupt-trials.ts [--trials N] [--seed S] [--out DIR] [--signals SIGINT,SIGTERM,SIGKILL]
//
// The moment of each kill: after a random number of records (0 to the
// second-to-last) have reached trace.csv, plus a random part of the time one
// record takes; for 0 records, a random moment in the first 3 s after flowc's
// signal handler is installed (start-up, compilation). So every trial kills a
// run in progress, however loaded the machine. (A signal before node has run
// the first lines of bin/flowc.js meets the default action: nothing has been
// written then; the trials wait for the process title bin/flowc.js sets.)
//
// Expected: SIGINT ends in exit 130, SIGTERM in 143 (0 if the run finished
// first), with a checkpoint unless it came before the first one; SIGKILL in
// death by the signal. Any other ending counts as a problem.
//
// Needs `npm run build`: it copies bin/ and dist/ to DIR/flowc first and
// runs that copy, so a rebuild during the trials cannot change the program
// under test (or the trace's header) between the reference run and a resume.
// Prints one JSON line per trial and a summary.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCheckpoint } from '../src/runtime/checkpoint.js';
import { rng } from './mutate.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const trials = Number(opt('--trials', '20'));
const signals = opt('--signals', 'SIGINT,SIGTERM,SIGKILL').split(',') as NodeJS.Signals[];
const random = rng(Number(opt('--seed', '1')));
const work = path.resolve(opt('--out', '/tmp/flowc-interrupt'));
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

const SPEC = `flow trials
seed 11
particles mu in R^2: 40 ~ normal([0, 0], 1)
sample nu in R^2: 40 ~ normal([2, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 150)
noise 0.2 / sqrt(1 + n)
diffusion 0.001
checkpoint every 10
record every 5: F, w2(mu, nu), dissipation, positions(mu)
`;

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
fs.writeFileSync(path.join(work, 't.flow'), SPEC);
// the program under test: a copy of this build
const copy = path.join(work, 'flowc');
for (const d of ['bin', 'dist']) fs.cpSync(path.join(ROOT, d), path.join(copy, d), { recursive: true });
fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
const BIN = path.join(copy, 'bin', 'flowc.js');

/** Whether flowc's SIGINT/SIGTERM handler is in place in process `pid`: bin/flowc.js sets the process title right after installing it (Linux: /proc/PID/cmdline); true where that cannot be read. */
function catching(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('flowc ');
  } catch {
    return !fs.existsSync('/proc/self/cmdline');
  }
}

const flowc = (a: string[]) => spawnSync(process.execPath, [BIN, ...a], { cwd: work, encoding: 'utf8' });

const t0 = Date.now();
const ref = flowc(['run', 't.flow', '--out', 'ref', '--quiet']);
if (ref.status !== 0) throw new Error(`the reference run failed: ${ref.stderr}`);
const refMs = Date.now() - t0;
const refMu = fs.readFileSync(path.join(work, 'ref', 'mu.npy'));
const refTrace = fs.readFileSync(path.join(work, 'ref', 'trace.csv'), 'utf8');

/** Problems with the files of a run folder: each file parses, each record is whole. `killed`: a record cut mid-write may trail the .npy. */
function check(dir: string, killed: boolean): string[] {
  const problems: string[] = [];
  const files = fs.readdirSync(dir);
  // a SIGKILL may leave a temporary file (an atomic write cut short): the next run in the folder removes it
  if (!killed) for (const f of files) if (f.endsWith('.tmp') || f.startsWith('.flowc-new')) problems.push(`left behind: ${f}`);
  let rows = 0;
  if (files.includes('trace.csv')) {
    const text = fs.readFileSync(path.join(dir, 'trace.csv'), 'utf8');
    if (text.length && !text.endsWith('\n')) problems.push('trace.csv ends mid-row');
    const lines = text.split('\n').filter((l) => l);
    const width = lines[0] ? lines[0].match(/"[^"]*"|[^,]+/g)!.length : 0;
    for (const l of lines.slice(1)) if (l.split(',').length !== width || l.split(',').some((v) => Number.isNaN(Number(v)))) problems.push(`trace.csv row not whole: ${l}`);
    rows = lines.length - 1;
  }
  if (files.includes('mu.npy')) {
    const b = fs.readFileSync(path.join(dir, 'mu.npy'));
    const shape = /'shape': \((\d+), (\d+), (\d+)\)/.exec(b.toString('latin1', 0, 128));
    if (!shape || b.toString('latin1', 0, 6) !== '\x93NUMPY') problems.push('mu.npy header unreadable');
    else {
      const n = Number(shape[1]);
      const need = 128 + n * 40 * 2 * 8;
      const extra = b.length - need;
      if (extra < 0 || (extra > 0 && (!killed || extra > 640))) problems.push(`mu.npy: ${n} records need ${need} bytes, file has ${b.length}`);
      if (!killed && n !== rows) problems.push(`mu.npy has ${n} records, trace.csv ${rows}`);
      if (killed && Math.abs(n - rows) > 1) problems.push(`mu.npy has ${n} records, trace.csv ${rows}`);
    }
  }
  if (files.includes('run.json'))
    try {
      JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    } catch {
      problems.push('run.json does not parse');
    }
  if (files.includes('checkpoint.bin'))
    try {
      decodeCheckpoint(fs.readFileSync(path.join(dir, 'checkpoint.bin')), 'checkpoint.bin');
    } catch (e) {
      problems.push(`checkpoint.bin: ${(e as Error).message}`);
    }
  return problems;
}

const summary: Record<string, { trials: number; problems: number; resumed: number; identical: number; beforeFirstCheckpoint: number; finished: number; exits: Record<string, number> }> = {};
const totalRecords = refTrace.trimEnd().split('\n').length - 1;
// the time one record takes, from a run that reports its step time
const timed = flowc(['run', 't.flow', '--out', 'timed']);
const stepMs = Number(/\(([\d.]+) ms\/step\)/.exec(timed.stdout)?.[1] ?? '20');
const every = Number(/record every (\d+)/.exec(SPEC)![1]);
const recordMs = Math.max(10, stepMs * every);
fs.rmSync(path.join(work, 'timed'), { recursive: true, force: true });
const expected: Record<string, string> = { SIGINT: '130', SIGTERM: '143', SIGKILL: 'SIGKILL' };
for (const signal of signals) {
  const s = (summary[signal] = { trials: 0, problems: 0, resumed: 0, identical: 0, beforeFirstCheckpoint: 0, finished: 0, exits: {} });
  for (let k = 0; k < trials; k++) {
    const name = `${signal}-${k}`;
    const rows = Math.floor(random() * (totalRecords - 1));
    const delay = rows === 0 ? Math.round(random() * 3000) : Math.round(random() * recordMs);
    const exit = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'run', 't.flow', '--out', name, '--quiet'], { cwd: work, stdio: 'ignore' });
      let timer: NodeJS.Timeout | undefined;
      const trace = path.join(work, name, 'trace.csv');
      const poll = setInterval(() => {
        const have = fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').split('\n').length - 2 : 0;
        if (have >= rows && catching(c.pid!)) {
          clearInterval(poll);
          timer = setTimeout(() => c.kill(signal), delay);
        }
      }, 5);
      c.on('exit', (code, sig) => (clearInterval(poll), clearTimeout(timer), resolve(sig ?? String(code))));
    });
    const code = exit === '0' ? 0 : null;
    s.trials++;
    s.exits[exit] = (s.exits[exit] ?? 0) + 1;
    const dir = path.join(work, name);
    const problems = fs.existsSync(dir) ? check(dir, signal === 'SIGKILL') : [];
    if (exit !== '0' && exit !== expected[signal]) problems.push(`exit ${exit}, expected ${expected[signal]}`);
    if (signal !== 'SIGKILL' && exit !== '0' && fs.existsSync(path.join(dir, 'run.json')) && fs.existsSync(path.join(dir, 'trace.csv'))) {
      // stopped by SIGINT/SIGTERM: a checkpoint is left, and the folder holds every record made
      if (!fs.existsSync(path.join(dir, 'checkpoint.bin'))) problems.push('no checkpoint after SIGINT/SIGTERM');
    }
    let outcome = 'no checkpoint';
    if (code === 0) {
      s.finished++;
      outcome = 'finished before the signal';
    } else if (fs.existsSync(path.join(dir, 'checkpoint.bin'))) {
      const r = flowc(['run', 't.flow', '--resume', name, '--quiet']);
      s.resumed++;
      const same = r.status === 0 && fs.readFileSync(path.join(dir, 'mu.npy')).equals(refMu) && fs.readFileSync(path.join(dir, 'trace.csv'), 'utf8') === refTrace;
      const left = fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.startsWith('.flowc'));
      if (left.length) problems.push(`left after --resume: ${left.join(', ')}`);
      if (same) s.identical++;
      outcome = same ? 'resumed: identical' : `resumed: DIFFERENT (${r.status}: ${r.stderr.trim()})`;
    } else s.beforeFirstCheckpoint++;
    if (problems.length) s.problems++;
    console.log(JSON.stringify({ trial: name, after_records: rows, delay_ms: delay, exit, problems, outcome }));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
console.log(JSON.stringify({ reference_ms: refMs, record_ms: recordMs, ...summary }));
process.exit(Object.values(summary).some((s) => s.problems || s.resumed !== s.identical) ? 1 : 0);
