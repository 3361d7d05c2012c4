// `flowc report`, opened in a real headless browser (Debian's chromium,
// driven by playwright-core): the page loads from a file with no network and
// no console errors, the slider moves the particles, and what it shows is not
// blank.

import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowc, tempDir } from './helpers.js';

const SPEC = `flow report_me "A blob flows onto two modes"
seed 5
particles mu in R^2: 60 ~ normal([0, 0], 1)
sample nu in R^2: 80 ~ mixture([1, 1], normal([2, 0], 0.2), normal([-2, 0], 0.2))
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 60)
record every 10: F, spread = E[x ~ mu] |x|^2, positions(mu)
`;

/** Debian's chromium (installed by .ci/run); the test fails, not skips, without it. */
const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((f) => fs.existsSync(f));

let browser: BrowserContext;
beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install -y chromium (see .ci/run)');
  // a fresh profile; the network is closed here, so no background connections
  browser = await chromium.launchPersistentContext(tempDir(), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
});

/** Open a file; every console error, page error and non-file request is collected. */
async function open(file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  return { page, problems };
}

/** Pixels of a PNG that differ from white, decoded by the browser itself. */
async function inkedPixels(page: Page, png: Buffer): Promise<number> {
  return page.evaluate(async (b64) => {
    const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const px = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235) n++;
    return n;
  }, png.toString('base64'));
}

describe('flowc report', () => {
  it('writes one self-contained page that loads cleanly, animates the particles and shows something', async () => {
    const dir = tempDir({ 'r.flow': SPEC });
    expect(flowc(['run', 'r.flow', '--out', 'run', '--quiet'], { cwd: dir }).code).toBe(0);
    const r = flowc(['report', 'run'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${path.join('run', 'report.html')}\n`);
    const file = path.join(dir, 'run', 'report.html');
    const html = fs.readFileSync(file, 'utf8');
    // self-contained: no external scripts, styles or images; vega's runtime is not in the page
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(html).not.toMatch(/vega\.(View|parse)|vegaEmbed/);
    // the spec, the figures of run.json, the plots
    expect(html).toContain('record every 10: F, spread = E[x ~ mu] |x|^2, positions(mu)');
    expect(html).toContain('A blob flows onto two modes');
    expect(html).toMatch(/<svg[^>]*class="marks"/);

    const { page, problems } = await open(file);
    const slider = page.locator('#record');
    expect(await slider.getAttribute('max')).toBe('6');
    await expect.poll(() => page.locator('#record-label').textContent()).toContain('step 0 ');
    const positions = () => page.locator('#anim circle').evaluateAll((cs) => cs.map((c) => `${c.getAttribute('cx')},${c.getAttribute('cy')}`));
    const first = await positions();
    expect(first).toHaveLength(60);

    // the keyboard moves the slider to the last record, and the particles with it
    await slider.focus();
    await page.keyboard.press('End');
    expect(await page.locator('#record-label').textContent()).toContain('step 60 ');
    const last = await positions();
    expect(last).toHaveLength(60);
    expect(last.filter((p, i) => p !== first[i]).length).toBeGreaterThan(50);

    // the page and the animation are not blank
    const whole = await page.screenshot({ fullPage: true });
    expect(await inkedPixels(page, whole)).toBeGreaterThan(20_000);
    const anim = await page.locator('#anim').screenshot();
    expect(await inkedPixels(page, anim)).toBeGreaterThan(1_000);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('sizes weighted particles by their weights as the slider moves (metric WFR)', async () => {
    const spec = SPEC.replace(/^scheme /m, 'metric WFR(a = 1, b = 4)\nscheme ').replace('positions(mu)', 'positions(mu), weights(mu)');
    const dir = tempDir({ 'r.flow': spec });
    const ran = flowc(['run', 'r.flow', '--out', 'run', '--quiet'], { cwd: dir });
    expect(ran.code, ran.stderr).toBe(0);
    expect(flowc(['report', 'run'], { cwd: dir }).code).toBe(0);
    const { page, problems } = await open(path.join(dir, 'run', 'report.html'));
    const radii = () => page.locator('#anim circle').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('r'))));
    await expect.poll(() => page.locator('#record-label').textContent()).toContain('step 0 ');
    const first = await radii();
    expect(new Set(first).size).toBe(1); // uniform weights at step 0
    await page.locator('#record').focus();
    await page.keyboard.press('End');
    const last = await radii();
    expect(Math.max(...last) / Math.min(...last.filter((r) => r > 0))).toBeGreaterThan(1.5);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('explains a run that recorded no positions, and still loads cleanly', async () => {
    const dir = tempDir({ 'r.flow': SPEC.replace(', positions(mu)', '') });
    expect(flowc(['run', 'r.flow', '--out', 'run', '--quiet', '--steps', '20'], { cwd: dir }).code).toBe(0);
    expect(flowc(['report', 'run', '--out', 'page.html'], { cwd: dir }).code).toBe(0);
    const { page, problems } = await open(path.join(dir, 'page.html'));
    expect(await page.locator('#anim').count()).toBe(0);
    expect(await page.textContent('body')).toContain('records no positions');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('fails with a diagnostic on a folder that is not a run', () => {
    const dir = tempDir();
    const r = flowc(['report', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${path.join(dir, 'run.json')}: error: not a flowc run folder: cannot read run.json\n`);
  });
});
