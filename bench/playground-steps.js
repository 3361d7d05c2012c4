// Steps per second of a flow in the browser playground, against flowc run
// on the same backend: builds the site, serves it with `flowc playground`,
// runs the spec in headless chromium (playwright-core, as the tests do) on
// cpu (1 and 2 threads), cpu:js and gpu:webgpu (WebGPU on SwiftShader, the
// flags of TOOLCHAIN.md), ROUNDS times each, and prints the page's
// own figure (steps / timings_ms.steps of run.json) next to the CLI's.
//
//   npm run build && node bench/playground-steps.js [SPEC] [ROUNDS]

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildPlayground } from '../playground/build.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SPEC = process.argv[2] ?? 'specs/mmd-three-modes.flow';
const ROUNDS = Number(process.argv[3] ?? 3);
const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((f) => fs.existsSync(f));
const CONFIGS = [
  { backend: 'cpu', threads: '1' },
  { backend: 'cpu', threads: '2' },
  { backend: 'cpu:js', threads: '1' },
  { backend: 'gpu:webgpu', threads: 'auto' },
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flowc-bench-'));
const { sizes } = await buildPlayground(path.join(tmp, 'site'));
const server = spawn(process.execPath, [path.join(ROOT, 'bin', 'flowc.js'), 'playground', '--port', '0', '--dir', path.join(tmp, 'site')]);
const url = await new Promise((resolve) => server.stdout.on('data', (b) => /at (http:\S+\/)/.test(String(b)) && resolve(/at (http:\S+\/)/.exec(String(b))[1])));
const browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'] });

const cli = (backend, threads) => {
  const out = path.join(tmp, `cli-${backend}-${threads}`);
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'flowc.js'), 'run', SPEC, '--backend', backend, ...(threads === 'auto' ? [] : ['--threads', threads]), '--out', out, '--force', '--quiet'], { cwd: ROOT });
  if (r.status !== 0) throw new Error(String(r.stderr));
  const meta = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
  return (meta.steps * 1000) / meta.timings_ms.steps;
};

const page = await browser.newPage();
await page.goto(`${url}#name=${path.basename(SPEC, '.flow')}`);
await page.waitForSelector('.cm-content');
const results = [];
for (let round = 0; round < ROUNDS; round++)
  for (const c of CONFIGS) {
    await page.selectOption('#backend', c.backend);
    await page.selectOption('#threads', c.threads);
    await page.click('#run');
    await page.waitForFunction(() => !['running', 'stopping'].includes(document.getElementById('status').dataset.status), null, { timeout: 600_000 });
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#downloads a[download="run.json"]')]);
    const meta = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
    results.push({ ...c, round, page: (meta.steps * 1000) / meta.timings_ms.steps, cli: cli(c.backend, c.threads) });
  }
await browser.close();
server.kill();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${SPEC}, ${ROUNDS} rounds, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; app.js ${sizes['app.js'].bytes} bytes (${sizes['app.js'].gzip} gzip)`);
console.log('backend     threads  page steps/s (median; each round)      flowc run steps/s (median; each round)');
for (const c of CONFIGS) {
  const rs = results.filter((r) => r.backend === c.backend && r.threads === c.threads);
  const f = (k) => `${median(rs.map((r) => r[k])).toFixed(0)} (${rs.map((r) => r[k].toFixed(0)).join(', ')})`;
  console.log(`${c.backend.padEnd(11)} ${c.threads.padEnd(8)} ${f('page').padEnd(38)} ${f('cli')}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
