// Memory of a long run that records positions at every step (issue 10): the
// records are streamed to disk, so the resident set must stay flat. Runs
// `flowc run` on a small flow for STEPS steps (default 100000) with
// `record every 1: F, positions(mu)`, samples VmRSS from /proc every 250 ms,
// and prints JSON: the RSS at 10%, 50% and 100% of the run's duration, the
// peak, and the size of the files written. Linux only (/proc).
//
//   npm run build && node bench/rss-records.js [STEPS]

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const steps = Number(process.argv[2] ?? 100000);
const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'flowc.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowc-rss-'));
fs.writeFileSync(
  path.join(dir, 'r.flow'),
  `flow rss
seed 1
particles mu in R^2: 64 ~ normal([0, 0], 1)
sample nu in R^2: 64 ~ normal([2, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.1, steps = ${steps})
record every 1: F, positions(mu)
`,
);
const t0 = Date.now();
const child = spawn(process.execPath, [bin, 'run', 'r.flow', '--out', 'o', '--quiet'], { cwd: dir, stdio: 'inherit' });
const samples = [];
const timer = setInterval(() => {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]);
    samples.push({ t: Date.now() - t0, mb: kb / 1024 });
  } catch {
    // the process has ended
  }
}, 250);
child.on('exit', (code) => {
  clearInterval(timer);
  const at = (f) => samples[Math.min(samples.length - 1, Math.floor(f * samples.length))]?.mb;
  const size = (f) => fs.statSync(path.join(dir, 'o', f)).size;
  console.log(
    JSON.stringify({
      steps,
      exit: code,
      seconds: (Date.now() - t0) / 1000,
      samples: samples.length,
      rss_mb: { at_10pct: at(0.1), at_50pct: at(0.5), at_end: at(0.999), peak: Math.max(...samples.map((s) => s.mb)) },
      files_mb: { 'mu.npy': size('mu.npy') / 2 ** 20, 'trace.csv': size('trace.csv') / 2 ** 20 },
    }),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});
