// The fuzzer's long run:
//   npx tsx fuzz/run.ts [--count N] [--seed S] [--out DIR] [--jobs J]
// Inputs are mutations (fuzz/mutate.ts) of every spec and language example,
// 1 to 3 mutations deep, input k from seed S + k. A child process runs them
// (fuzz/worker.ts); this parent restarts it after a crash of the process
// itself, and kills it when one input takes over 20 s (a hang). Every crash
// is written to DIR/crash-K.txt with its message, and its input to
// DIR/crash-K.flow and DIR/crash-K.json (text and file: replay it with
// fuzz/replay.ts --json FILE, since input K changes with the seed texts);
// the last line printed is the tally.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzzInput } from './inputs.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const count = Number(opt('--count', '100000'));
const seed0 = Number(opt('--seed', '1'));
const outDir = opt('--out', 'fuzz/out');
const jobs = Math.max(1, Number(opt('--jobs', '1')));
const HANG_MS = 20_000;
const STARTUP_MS = 300_000;
const here = path.dirname(fileURLToPath(import.meta.url));
fs.mkdirSync(outDir, { recursive: true });

const tally = { ok: 0, diagnostic: 0, skipped: 0, crash: 0, hang: 0 };
const t0 = Date.now();
let finished = 0;

function saveCrash(k: number, kind: string, message: string): void {
  fs.writeFileSync(path.join(outDir, `crash-${k}.txt`), `${kind}: seed ${k}\n${message}\n`);
  // the input itself: input k depends on the seed texts (specs, docs), which change with the tree
  const { text, file } = fuzzInput(path.join(here, '..'), k);
  fs.writeFileSync(path.join(outDir, `crash-${k}.flow`), text);
  fs.writeFileSync(path.join(outDir, `crash-${k}.json`), JSON.stringify({ file, text }));
}

async function runChild(start: number, end: number): Promise<void> {
  let next = start;
  while (next < end) {
    const from = next;
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'worker.ts'), String(from), String(end)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let current = from;
      let timer: NodeJS.Timeout | undefined = undefined;
      // A hang is 20 s of the child's CPU time on one input (Linux: /proc/PID/stat), not of wall time: on a
      // loaded machine at nice 19 wall time says little. Elsewhere, wall time. Start-up is not an input.
      const cpu = (): number | undefined => {
        try {
          const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
          return ((Number(f[11]) + Number(f[12])) / 100) * 1000;
        } catch {
          return undefined;
        }
      };
      let startedAt = Date.now();
      let startedCpu = cpu();
      let started = false;
      const arm = () => {
        startedAt = Date.now();
        startedCpu = cpu();
        started = true;
      };
      timer = setInterval(() => {
        const now = cpu();
        const spent = now !== undefined && startedCpu !== undefined ? now - startedCpu : Date.now() - startedAt;
        if (spent > (started ? HANG_MS : STARTUP_MS)) {
          clearInterval(timer);
          tally.hang++;
          finished++;
          saveCrash(current, 'hang', `over ${HANG_MS / 1000} s of CPU time`);
          next = current + 1;
          child.kill('SIGKILL');
        }
      }, 500);
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const msg = JSON.parse(line) as { k: number; kind: keyof typeof tally | 'start'; message?: string };
          if (msg.kind === 'start') {
            current = msg.k;
            arm();
            continue;
          }
          tally[msg.kind]++;
          if (msg.kind === 'crash') saveCrash(msg.k, 'crash', msg.message ?? '');
          next = msg.k + 1;
          const done = ++finished;
          if (done % 1000 === 0) process.stderr.write(`${done}/${count} ${JSON.stringify(tally)} ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        }
      });
      child.on('exit', (code, signal) => {
        clearInterval(timer);
        if (next === current && (code !== 0 || signal) && signal !== 'SIGKILL') {
          // the process itself died on this input (out of memory, a native crash)
          tally.crash++;
          finished++;
          saveCrash(current, 'crash', `worker exited with ${signal ?? code}`);
          next = current + 1;
        }
        resolve();
      });
    });
  }
}

const share = Math.ceil(count / jobs);
await Promise.all(Array.from({ length: jobs }, (_, j) => runChild(seed0 + j * share, Math.min(seed0 + count, seed0 + (j + 1) * share))));
const total = tally.ok + tally.diagnostic + tally.skipped + tally.crash + tally.hang;
console.log(JSON.stringify({ inputs: total, ...tally, crashes: tally.crash + tally.hang, seconds: Math.round((Date.now() - t0) / 1000), seed: seed0 }));
process.exit(tally.crash + tally.hang ? 1 : 0);
