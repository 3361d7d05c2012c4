// The browser playground (playground/, `npm run playground`, `flowc
// playground`), in a real headless browser (Debian's chromium, driven by
// playwright-core). The site is built here, so a change that breaks its
// build fails this test. It checks: the page loads with no console errors
// and no request outside its own folder; a typed error shows the compiler's
// diagnostic at its line and fixing it clears it; a run moves the particles,
// lowers the energy and writes trace.csv, run.json and the .npy files with
// the same bytes as `flowc run` on the same backend; Stop ends the run after
// the step in progress; a second run starts clean, and on two threads gives the
// same bytes; the address carries the
// spec; opened from a file, the page runs on cpu:js.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script, no types
import { buildPlayground } from '../playground/build.mjs';
import { BIN, flowc, ROOT, tempDir } from './helpers.js';

const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((f) => fs.existsSync(f));
const SPEC = 'specs/mmd-three-modes.flow';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** WebGPU on SwiftShader (TOOLCHAIN.md, "Browser"): only for the gpu:webgpu test, since it slows down the rest */
const WEBGPU_ARGS = [...ARGS.filter((a) => a !== '--disable-gpu'), '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'];

let site: string;
let sizes: Record<string, { bytes: number; gzip: number }>;
let server: ChildProcess;
let url: string;
let browser: BrowserContext;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install -y chromium (see .ci/run)');
  site = path.join(tempDir(), 'site');
  ({ sizes } = (await buildPlayground(site)) as { sizes: typeof sizes });
  server = spawn(process.execPath, [BIN, 'playground', '--port', '0', '--dir', site], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  url = await new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', (b: Buffer) => {
      said += String(b);
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(said);
      if (m) resolve(m[1]);
    });
    server.stderr!.on('data', (b: Buffer) => (said += String(b)));
    server.on('exit', (code) => reject(new Error(`flowc playground exited (${code}): ${said}`)));
  });
  browser = await chromium.launchPersistentContext(tempDir(), {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: ARGS,
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

/** Open the page; every console error or warning, page error and request outside `base` is collected. */
async function open(address: string, base = url, context = browser): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // the run worker's code comes from a blob: URL the page makes itself
  const origin = base.startsWith('file:') ? 'blob:null/' : `blob:${base.replace(/\/$/, '')}/`;
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`request outside the site: ${r.url()}`);
  });
  await page.goto(address, { waitUntil: 'load' });
  await page.waitForSelector('.cm-content');
  return { page, problems };
}

const status = (page: Page) => page.$eval('#status', (e) => (e as HTMLElement).dataset.status);

/** Click Run and wait for the run to end; returns its status. */
async function runToEnd(page: Page): Promise<string | undefined> {
  await page.click('#run');
  await page.waitForFunction(() => !['running', 'stopping'].includes(document.getElementById('status')!.dataset.status!), null, { timeout: 60_000 });
  return status(page);
}

/** The bytes of a file offered for download after a run. */
async function download(page: Page, name: string): Promise<Buffer> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`#downloads a[download="${name}"]`)]);
  return fs.readFileSync((await dl.path())!);
}

/** What `flowc run` writes for the spec with these options. */
function cliRun(backend: string, steps: number): Record<string, Buffer> {
  const out = path.join(tempDir(), 'run');
  const r = flowc(['run', SPEC, '--steps', String(steps), '--backend', backend, '--out', out, '--quiet'], { cwd: ROOT });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.readFileSync(path.join(out, f))]));
}

/** The canvas of the particles, as a PNG. */
const particles = (page: Page) => page.locator('#particles').screenshot();

describe('flowc playground', () => {
  it('builds one folder that loads with no console errors and no request outside it, isolated, on the cpu backend', async () => {
    expect(fs.readdirSync(site).sort()).toEqual(['app.js', 'index.html', 'style.css']);
    expect(sizes['app.js'].bytes).toBeGreaterThan(0);
    const { page, problems } = await open(url);
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    expect(await page.$eval('#backend', (e) => (e as HTMLSelectElement).value)).toBe('cpu');
    // every example spec of specs/ is in the menu; mmd-three-modes is shown first
    const menu = await page.$$eval('#example option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(menu).toEqual(fs.readdirSync(path.join(ROOT, 'specs')).filter((f) => f.endsWith('.flow')).map((f) => f.replace(/\.flow$/, '')).sort());
    expect(await page.$eval('.cm-content', (e) => e.textContent)).toContain('flow mmd_three_modes');
    // the grammar's keywords are highlighted
    expect(await page.$$eval('.cm-content .tok-keyword', (es) => es.map((e) => e.textContent))).toEqual(expect.arrayContaining(['flow', 'let', 'particles', 'sample', 'kernel', 'energy', 'metric', 'scheme', 'record']));
    await page.waitForTimeout(500);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows a typed error at its line and column, as flowc check does, and clears it when fixed', async () => {
    const { page, problems } = await open(url);
    // line 11 is `energy F = 1/2 * mmd2(mu, nu; k)`: type a second k into the kernel's name
    await page.click('.cm-content');
    await page.keyboard.press('Control+Home');
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.type('k');
    await page.waitForSelector('#problems li.error');
    const shown = await page.$$eval('#problems li.error', (es) => es.map((e) => ({ line: (e as HTMLElement).dataset.line, text: e.textContent })));
    // flowc check on the same text says the same
    const dir = tempDir({ 'mmd-three-modes.flow': (await page.$$eval('.cm-line', (ls) => ls.map((l) => l.textContent).join('\n'))) + '\n' });
    fs.cpSync(path.join(ROOT, 'specs', 'data'), path.join(dir, 'data'), { recursive: true });
    const check = flowc(['check', 'mmd-three-modes.flow'], { cwd: dir });
    expect(check.code).toBe(1);
    const where = /mmd-three-modes\.flow:(\d+):(\d+): error: ([^\n]*)/.exec(check.stderr)!;
    expect(where[1]).toBe('11');
    expect(shown).toHaveLength(1);
    expect(shown[0].line).toBe('11');
    expect(shown[0].text).toBe(`${SPEC}:${where[1]}:${where[2]}: error: ${where[3]}`);
    // the editor underlines it on line 11
    const underlined = await page.$$eval('.cm-lintRange-error', (es) => es.map((e) => [...document.querySelectorAll('.cm-line')].indexOf(e.closest('.cm-line')!) + 1));
    expect(underlined).toEqual([11]);
    await page.keyboard.press('Backspace');
    await page.waitForFunction(() => document.querySelectorAll('#problems li').length === 0 && document.querySelectorAll('.cm-lintRange-error').length === 0);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('runs mmd-three-modes live, stops after the step in progress, and a second run gives the bytes flowc run writes, on one thread or two', async () => {
    const { page, problems } = await open(url);
    await page.fill('#steps', '100000');
    await page.click('#run');
    // the particles move while it runs: two pictures of the canvas differ
    await page.waitForFunction(() => Number(document.getElementById('step')!.textContent) >= 20, null, { timeout: 30_000 });
    const before = await particles(page);
    const at = Number(await page.textContent('#step'));
    await page.waitForFunction((s) => Number(document.getElementById('step')!.textContent) >= s + 40, at, { timeout: 30_000 });
    const after = await particles(page);
    expect(after.equals(before)).toBe(false);
    // Stop: the run ends after the step that was running when it was pressed
    await page.click('#stop');
    await page.waitForFunction(() => document.getElementById('status')!.dataset.status === 'interrupted', null, { timeout: 30_000 });
    const stopped = await page.$eval('#status', (e) => ({ ...(e as HTMLElement).dataset }));
    expect(Number(stopped.steps)).toBeGreaterThanOrEqual(at);
    expect(Number(stopped.steps)).toBeLessThanOrEqual(Number(stopped.stepAtStop));
    const interrupted = JSON.parse((await download(page, 'run.json')).toString()) as { status: string; steps: number };
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.steps).toBe(Number(stopped.steps));

    // a second run, 40 steps: from step 0 again, the energy decreases, the files are flowc run's
    await page.fill('#steps', '40');
    expect(await runToEnd(page)).toBe('ok');
    const cli = cliRun('cpu', 40);
    const trace = await download(page, 'trace.csv');
    expect(trace.toString()).toBe(cli['trace.csv'].toString());
    const rows = trace.toString().trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    expect(rows.map((r) => r[0])).toEqual([0, 10, 20, 30, 40]);
    for (let k = 1; k < rows.length; k++) expect(rows[k][2]).toBeLessThan(rows[k - 1][2]);
    expect((await download(page, 'mu.npy')).equals(cli['mu.npy'])).toBe(true);
    expect((await download(page, 'nu.input.npy')).equals(cli['nu.input.npy'])).toBe(true);
    const meta = JSON.parse((await download(page, 'run.json')).toString());
    const cliMeta = JSON.parse(cli['run.json'].toString());
    expect(meta.flowc).toBe(cliMeta.flowc);
    expect(meta.status).toBe('ok');
    expect(meta.steps).toBe(40);
    expect(meta.backend.name).toBe('cpu');
    expect(meta.files).toEqual(cliMeta.files);
    expect(meta.final).toEqual(cliMeta.final);
    expect(meta.spec.sha256).toBe(cliMeta.spec.sha256);
    expect(meta.data.map((d: { sha256: string }) => d.sha256)).toEqual(cliMeta.data.map((d: { sha256: string }) => d.sha256));
    expect(await page.textContent('#step')).toBe('40');
    expect(await page.$eval('#status', (e) => (e as HTMLElement).dataset.threads)).toBe('1');
    // on two threads (two more Web Workers sharing the module's memory): the same bytes
    await page.selectOption('#threads', '2');
    expect(await runToEnd(page)).toBe('ok');
    expect(await page.$eval('#status', (e) => (e as HTMLElement).dataset.threads)).toBe('2');
    expect((await download(page, 'trace.csv')).equals(cli['trace.csv'])).toBe(true);
    expect((await download(page, 'mu.npy')).equals(cli['mu.npy'])).toBe(true);
    expect(JSON.parse((await download(page, 'run.json')).toString()).backend.threads).toBe(2);
    // other coordinates drawn: coordinate 1 across, 0 up, the picture changes
    const drawn = await particles(page);
    await page.fill('#coord-x', '1');
    await page.fill('#coord-y', '0');
    await expect.poll(async () => (await particles(page)).equals(drawn)).toBe(false);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('on cpu:js gives flowc run --backend cpu:js bytes too, and its address carries the spec and the steps', async () => {
    const { page, problems } = await open(url);
    await page.selectOption('#backend', 'cpu:js');
    await page.fill('#steps', '30');
    // an edit: sigma 0.8 instead of 1.0 (line 3)
    await page.click('.cm-content');
    await page.keyboard.press('Control+Home');
    for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('End');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Backspace');
    await page.keyboard.type('0.8');
    expect(await runToEnd(page)).toBe('ok');
    const trace = (await download(page, 'trace.csv')).toString();
    const out = path.join(tempDir(), 'run');
    const r = flowc(['run', SPEC, '--set', 'sigma=0.8', '--steps', '30', '--backend', 'cpu:js', '--out', out, '--quiet'], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect(trace).toBe(fs.readFileSync(path.join(out, 'trace.csv'), 'utf8'));
    // the link: a new page from the address holds the edited spec, the steps and the backend
    await page.waitForFunction(() => location.hash.includes('spec='));
    const link = page.url();
    const text = await page.$$eval('.cm-line', (ls) => ls.map((l) => l.textContent).join('\n'));
    expect(text).toContain('let sigma = 0.8');
    const again = await open(link);
    expect(await again.page.$$eval('.cm-line', (ls) => ls.map((l) => l.textContent).join('\n'))).toBe(text);
    expect(await again.page.inputValue('#steps')).toBe('30');
    expect(await again.page.$eval('#backend', (e) => (e as HTMLSelectElement).value)).toBe('cpu:js');
    expect([...problems, ...again.problems]).toEqual([]);
    await page.close();
    await again.page.close();
  }, 120_000);

  it('runs on gpu:webgpu (gpu.js on the browser\'s WebGPU, float32) within float32 error of flowc run', async () => {
    const webgpu = await chromium.launchPersistentContext(tempDir(), { executablePath: CHROMIUM, headless: true, acceptDownloads: true, args: WEBGPU_ARGS });
    const { page, problems } = await open(url, url, webgpu);
    await page.selectOption('#backend', 'gpu:webgpu');
    await page.fill('#steps', '20');
    expect(await runToEnd(page)).toBe('ok');
    const meta = JSON.parse((await download(page, 'run.json')).toString());
    expect(meta.backend).toMatchObject({ name: 'gpu:webgpu', precision: 'float32', mode: 'webgpu' });
    const trace = (await download(page, 'trace.csv')).toString().trim().split('\n');
    const cli = cliRun('cpu', 20)['trace.csv'].toString().trim().split('\n');
    expect(trace[0]).toBe(cli[0]);
    expect(trace).toHaveLength(cli.length);
    for (let k = 1; k < cli.length; k++) {
      const [a, b] = [trace[k].split(',').map(Number), cli[k].split(',').map(Number)];
      expect(a[0]).toBe(b[0]);
      expect(Math.abs(a[2] - b[2]) / b[2]).toBeLessThan(1e-4);
    }
    expect(problems).toEqual([]);
    await webgpu.close();
  }, 120_000);

  it('takes CSV files dropped onto the page as data files next to the spec; before the drop the run says which file is missing', async () => {
    const { page, problems } = await open(url);
    const spec = ['flow dropped "points from a dropped file"', 'particles mu in R^2 from "pts.csv"', 'sample nu in R^2: 50 ~ normal([1, 1], 0.5)', 'kernel k(x, y) = exp(-|x - y|^2 / 2)', 'energy F = 1/2 * mmd2(mu, nu; k)', 'scheme euler(step = 0.5, steps = 10)', 'record every 5: F, positions(mu)'].join('\n');
    await page.click('.cm-content');
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(spec);
    expect(await runToEnd(page)).toBe('failed');
    const missing = await page.$$eval('#problems li.error', (es) => es.map((e) => e.textContent));
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/^specs\/mmd-three-modes\.flow:2:\d+: error: .*pts\.csv/);
    const csv = 'x,y\n0,0\n0.5,0.1\n-0.2,0.3\n0.1,-0.4\n';
    const dt = await page.evaluateHandle((text) => {
      const d = new DataTransfer();
      d.items.add(new File([text], 'pts.csv', { type: 'text/csv' }));
      return d;
    }, csv);
    await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
    await page.waitForFunction(() => document.getElementById('data')!.textContent!.includes('pts.csv'));
    expect(await runToEnd(page)).toBe('ok');
    const meta = JSON.parse((await download(page, 'run.json')).toString());
    expect(meta.data).toEqual([{ measure: 'mu', file: 'specs/pts.csv', sha256: createHash('sha256').update(csv).digest('hex') }]);
    expect(meta.measures[0]).toMatchObject({ name: 'mu', points: 4, dim: 2 });
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('runs every example of the menu (two steps each) with its data, and says where a diverging flow stopped', async () => {
    const { page, problems } = await open(url);
    await page.fill('#steps', '2');
    const names = await page.$$eval('#example option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    const failed: string[] = [];
    for (const name of names) {
      await page.selectOption('#example', name);
      const s = await runToEnd(page);
      const said = await page.$$eval('#problems li.error', (es) => es.map((e) => e.textContent));
      if (s !== 'ok' || said.length) failed.push(`${name}: ${s} ${said.join('; ')}`);
    }
    expect(failed).toEqual([]);
    // a step so large that the time overflows: the run stops there and says so
    await page.selectOption('#example', 'mmd-three-modes');
    await page.click('.cm-content');
    await page.keyboard.press('Control+Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('End');
    await page.keyboard.type('e308');
    expect(await runToEnd(page)).toBe('diverged');
    // (gamma = 1e308: t = 2 gamma overflows at step 2, as flowc run says)
    expect(await page.textContent('#status')).toBe('diverged at step 2: t is Infinity');
    const meta = JSON.parse((await download(page, 'run.json')).toString());
    expect(meta.status).toBe('diverged');
    expect(meta.divergence).toEqual({ step: 2, quantity: 't', value: 'Infinity' });
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('opened from a file, runs on cpu:js with no request outside its folder, and stops', async () => {
    const base = `file://${site}/`;
    const { page, problems } = await open(`${base}index.html`, base);
    expect(await page.$eval('#backend', (e) => (e as HTMLSelectElement).value)).toBe('cpu:js');
    await page.fill('#steps', '20');
    expect(await runToEnd(page)).toBe('ok');
    expect(await page.textContent('#step')).toBe('20');
    // Stop comes as a message here (no shared memory): the run still ends, interrupted, its files valid
    await page.fill('#steps', '100000');
    await page.click('#run');
    await page.waitForFunction(() => Number(document.getElementById('step')!.textContent) >= 20, null, { timeout: 30_000 });
    await page.click('#stop');
    await page.waitForFunction(() => document.getElementById('status')!.dataset.status === 'interrupted', null, { timeout: 30_000 });
    const steps = Number(await page.$eval('#status', (e) => (e as HTMLElement).dataset.steps));
    expect(steps).toBeGreaterThanOrEqual(20);
    expect(steps).toBeLessThan(100000);
    const rows = (await download(page, 'trace.csv')).toString().trim().split('\n');
    expect(rows[0]).toBe('step,t,F');
    expect(Number(rows.at(-1)!.split(',')[0])).toBeLessThanOrEqual(steps);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});

/** A raw request to the server: status and headers. */
function get(pathname: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url.replace(/\/$/, '')}`, { method, path: pathname }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('flowc playground, the server', () => {
  it('serves the folder cross-origin isolated, and nothing outside it', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(index.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect((await get('/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/nothing.js', '/%00']) expect((await get(p)).status).toBe(404);
    expect((await get('/', 'POST')).status).toBe(405);
  });

  it('says what is wrong with its options or its folder, with a non-zero exit', () => {
    const bad = flowc(['playground', '--port', '70000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("expected a port from 0 to 65535, got '70000'");
    const empty = tempDir();
    const none = flowc(['playground', '--dir', empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`${empty}: error: no playground built here (no index.html); build it with \`npm run playground\`\n`);
    const port = new URL(url).port;
    const taken = flowc(['playground', '--port', port, '--dir', site]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toBe(`${site}: error: port ${port} on 127.0.0.1 is in use; choose another with --port\n`);
  });
});

describe('the page type-checks', () => {
  // esbuild strips types without checking them, and the root tsconfig has no
  // browser types: without this, a type error in playground/src reaches CI unseen
  it('tsc -p playground/tsconfig.json reports nothing', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'playground/tsconfig.json')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 180_000);
});
