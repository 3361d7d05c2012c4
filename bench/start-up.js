// Start-up time of `flowc check` (issue 11, item 9: under 0.3 s wall on the
// development machine). Runs, interleaved so that a change of machine load
// touches all alike, ROUNDS times each (default 20):
//
//   node          `node -e 0`: the floor, Node's own start-up
//   check         `flowc check SPEC`: the bundle dist/front.cjs with its code cache
//   check_full    the same with FLOWC_START=full: the whole command line (commander, every module)
//   compile       `flowc compile SPEC`: the summary, from the same bundle
//   compile_ir    `flowc compile SPEC --emit ir-text`: through the whole command line
//
// Each command runs under bash's `time`, which reports the child's wall
// time and CPU time (user + system). Prints one JSON document: median, min
// and max of each, and the load average before and after.
//
//   npm run build && node bench/start-up.js [ROUNDS] [SPEC]

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 20);
const spec = process.argv[3] ?? 'specs/mmd-three-modes.flow';
const bin = path.join(ROOT, 'bin', 'flowc.js');
const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;

const commands = {
  node: `${q(process.execPath)} -e 0`,
  check: `${q(process.execPath)} ${q(bin)} check ${q(spec)}`,
  check_full: `FLOWC_START=full ${q(process.execPath)} ${q(bin)} check ${q(spec)}`,
  compile: `${q(process.execPath)} ${q(bin)} compile ${q(spec)}`,
  compile_ir: `${q(process.execPath)} ${q(bin)} compile ${q(spec)} --emit ir-text`,
};

/** One run under bash's `time`: [wall, cpu] in seconds. */
function timed(command) {
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%R %U %S'; time (${command} >/dev/null 2>/dev/null)`], { cwd: ROOT, encoding: 'utf8' });
  const [wall, user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  if (r.status !== 0 || !Number.isFinite(wall)) throw new Error(`${command} failed: ${r.stderr}`);
  return [wall, user + sys];
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: +median.toFixed(3), min: +s[0].toFixed(3), max: +s[s.length - 1].toFixed(3) };
};

const load_before = os.loadavg();
timed(commands.check); // writes the code cache if this build has none yet (npm run build writes it)
const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, { wall: [], cpu: [] }]));
for (let i = 0; i < rounds; i++) {
  for (const [name, command] of Object.entries(commands)) {
    const [wall, cpu] = timed(command);
    samples[name].wall.push(wall);
    samples[name].cpu.push(cpu);
  }
  process.stderr.write(`round ${i + 1}/${rounds}\r`);
}
process.stderr.write('\n');
const result = {
  spec,
  rounds,
  node_version: process.version,
  cores: os.cpus().length,
  load_before,
  load_after: os.loadavg(),
  seconds: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { wall: stats(v.wall), cpu: stats(v.cpu) }])),
};
result.check_minus_node_wall = +(result.seconds.check.wall.median - result.seconds.node.wall.median).toFixed(3);
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
