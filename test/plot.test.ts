// `flowc plot` and `run --plot`: the SVG through the real binary (curves,
// scatter, legend, axis labels); PNG output, the options and their errors
// in-process (Vega loads once); the Vega-Lite spec itself (log scale only
// for positive values).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { densityEstimate, loadRun, plotRun, plotSpec, RECORD_COLORS } from '../src/draw/plot.js';
import { run } from '../src/library.js';
import { BIN, tempDir } from './helpers.js';

// targets from a file that the run does not record, an unnamed item whose column holds commas, a negative scalar
const SPEC = `flow plotted "A small flow to plot"
seed 2
let sigma = 1.0
particles mu in R^2: 30 ~ normal([0, 0], 1)
sample nu in R^2 from "nu.csv"
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 40)
record every 10: F, mmd2(mu, nu; k), neg = -E[x ~ mu] |x|^2, positions(mu)
`;
const NU = 'x,y\n2,0\n-2,0\n0,2\n2.5,0.5\n';

const RECORD_SPEC = `flow neurons
seed 4
particles mu in (w: R, theta: R^2): 20 ~ (w: normal(0, 0.1), theta: sphere(1))
sample teacher in (w: R, theta: R^2): 3 ~ (w: normal(1, 0.1), theta: sphere(1))
sample data in R^2: 50 ~ normal(0, 1)
fn phi(u, x) = u.w * relu(dot(u.theta, x))
energy F = 1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - E[v ~ teacher] phi(v, x))^2
scheme euler(step = 0.5, steps = 20)
record every 5: F, positions(mu)
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function flowc(args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr }),
    );
  });
}

/** A folder with the spec, and a run of it in `run/` (through the API, in-process). */
async function ran(spec = SPEC, files: Record<string, string> = { 'nu.csv': NU }): Promise<string> {
  const dir = tempDir({ 's.flow': spec, ...files });
  await run(path.join(dir, 's.flow'), { out: path.join(dir, 'run') });
  return dir;
}

/** The texts of an SVG, in document order. */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
const svgTexts = (file: string) => texts(fs.readFileSync(file, 'utf8'));

describe.concurrent('flowc plot', () => {
  it('draws the energy curve and the particles over the targets, as SVG by default', async () => {
    const dir = await ran();
    const r = await flowc(['plot', 'run'], dir);
    expect(r).toEqual({ code: 0, stdout: `wrote ${path.join('run', 'plot.svg')}\n`, stderr: '' });
    const svg = fs.readFileSync(path.join(dir, 'run', 'plot.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    const t = texts(svg);
    // axis titles, the log axis labelled at powers of ten, the legend
    for (const s of ['step', 'F (log scale)', 'mu[0]', 'mu[1]', 'nu (target)', 'mu at step 0', 'mu at step 40', 'trajectories']) expect(t).toContain(s);
    expect(t).toContain('10⁻¹');
    // the curve and the trajectories are line marks; particles and targets are symbols
    expect(svg).toContain('class="mark-line role-mark');
    expect(svg).toContain('class="mark-symbol role-mark');
  });

  it('run --plot --report writes the figures next to the data, and says so', async () => {
    const dir = tempDir({ 's.flow': SPEC, 'nu.csv': NU });
    const r = await flowc(['run', 's.flow', '--out', 'o', '--plot', '--report'], dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`  wrote      ${path.join('o', 'plot.svg')}\n  wrote      ${path.join('o', 'report.html')}\n`);
    expect(fs.readdirSync(path.join(dir, 'o')).sort()).toEqual(['mu.npy', 'nu.input.npy', 'plot.svg', 'report.html', 'run.json', 'trace.csv']);
  });

  it('reports bad options as diagnostics or usage errors', async () => {
    const dir = await ran();
    const [records, coords] = await Promise.all([flowc(['plot', 'run', '--records', '5'], dir), flowc(['plot', 'run', '--coords', '1,1'], dir)]);
    expect(records).toEqual({ code: 1, stdout: '', stderr: 'run: error: step 5 was not recorded; the recorded steps are 0, 10, 20, 30, 40\n' });
    expect(coords.code).toBe(2);
    expect(coords.stderr).toContain('expected two different coordinates like 0,1');
  });
});

describe.concurrent('plotRun', () => {
  it('writes PNG on request, three times the SVG size', async () => {
    const dir = await ran();
    await plotRun(path.join(dir, 'run'), path.join(dir, 'a.svg'));
    expect(await plotRun(path.join(dir, 'run'), path.join(dir, 'a.png'))).toEqual({ file: path.join(dir, 'a.png'), notes: [] });
    const png = fs.readFileSync(path.join(dir, 'a.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const svg = fs.readFileSync(path.join(dir, 'a.svg'), 'utf8');
    const [, w, h] = /<svg[^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([3 * Number(w), 3 * Number(h)]);
  });

  it('selects scalars (an unnamed item\'s column has ; for ,), records and coordinates of a record space', async () => {
    const dir = await ran();
    await plotRun(path.join(dir, 'run'), undefined, { columns: ['mmd2(mu; nu; k),neg'], records: [0, 20, 40] });
    const t = svgTexts(path.join(dir, 'run', 'plot.svg'));
    for (const s of ['mmd2(mu; nu; k) (log scale)', 'neg', 'mu at step 20']) expect(t).toContain(s);
    expect(t).not.toContain('F (log scale)');

    const nd = await ran(RECORD_SPEC, {});
    await plotRun(path.join(nd, 'run'), path.join(nd, 'p.svg'), { coords: [1, 2] });
    const u = svgTexts(path.join(nd, 'p.svg'));
    for (const s of ['theta[0]', 'theta[1]', 'teacher (target)']) expect(u).toContain(s);
    expect(u).not.toContain('data (target)');
  });

  it('rejects what the run does not have, naming the choices', async () => {
    const dir = path.join(await ran(), 'run');
    await expect(plotRun(dir, undefined, { columns: ['G'] })).rejects.toThrow(`${dir}: error: no recorded scalar 'G'; the run has 'F', 'mmd2(mu; nu; k)', 'neg'`);
    await expect(plotRun(dir, undefined, { coords: [0, 2] })).rejects.toThrow(`${dir}: error: --coords 0,2: the particles have coordinates 0 to 1`);
    await expect(plotRun(dir, 'x.pdf')).rejects.toThrow('x.pdf: error: the plot file must end in .svg or .png');
    await expect(plotRun(path.dirname(dir))).rejects.toThrow('not a flowc run folder: cannot read run.json');
  });

  it('draws only from the run folder: the spec and its data file gone or changed make no difference', async () => {
    const dir = await ran();
    const before = await plotRun(path.join(dir, 'run'), path.join(dir, 'before.svg'));
    for (const f of fs.readdirSync(dir)) if (f !== 'run' && !f.endsWith('.svg')) fs.rmSync(path.join(dir, f), { recursive: true });
    const r = await plotRun(path.join(dir, 'run'), path.join(dir, 'after.svg'));
    expect(r.notes).toEqual(before.notes);
    expect(svgTexts(r.file)).toContain('nu (target)');
    expect(svgTexts(r.file)).toEqual(svgTexts(before.file));
  });
});

describe('plotSpec', () => {
  it('sizes weighted particles by their weights (metric WFR, weights(mu) recorded)', async () => {
    const dir = await ran(
      SPEC.replace('scheme euler', 'metric WFR(a = 1, b = 4)\nscheme euler').replace('positions(mu)', 'positions(mu), weights(mu)'),
    );
    const view = loadRun(path.join(dir, 'run'));
    expect(view.weights).toMatchObject({ records: 5, size: 30 });
    type Layer = { data: { values: { series: string; area: number }[] }; encoding: { size?: { field: string } } };
    const spec = plotSpec(view) as unknown as { hconcat: [unknown, { layer: Layer[] }] };
    const points = spec.hconcat[1].layer[1];
    expect(points.encoding.size?.field).toBe('area');
    const areas = (series: string) => points.data.values.filter((p) => p.series === series).map((p) => p.area);
    const first = areas('mu at step 0');
    const last = areas('mu at step 40');
    // uniform at step 0, spread by the Fisher–Rao part at the end; mean area unchanged (weights sum to 1)
    expect(Math.max(...first) - Math.min(...first)).toBeLessThan(1e-9);
    expect(Math.max(...last) / Math.min(...last)).toBeGreaterThan(2);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(last)).toBeCloseTo(mean(first), 9);
  });

  it('uses a log scale exactly when every value is positive', async () => {
    const dir = await ran();
    const view = loadRun(path.join(dir, 'run'));
    const spec = plotSpec(view, { columns: ['F', 'neg'] }) as unknown as { hconcat: [{ vconcat: { encoding: { y: { scale: { type?: string } } } }[] }] };
    const [f, neg] = spec.hconcat[0].vconcat;
    expect(f.encoding.y.scale.type).toBe('log');
    expect(neg.encoding.y.scale.type).toBeUndefined();
    // the targets come from the spec's CSV, the particles from mu.npy
    expect(view.targets.map((t) => [t.measure, t.size])).toEqual([['nu', 4]]);
    expect(view.particles).toMatchObject({ measure: 'mu', records: 5, size: 30, dim: 2 });
  });
});

const ONE_D_SPEC = `flow oned "Points of R"
seed 1
particles mu in R: 60 ~ normal(0, 1)
sample nu in R: 80 ~ mixture([1, 1], normal(-2, 0.3), normal(2, 0.5))
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 20)
record every 10: F, positions(mu)
`;

const STATES_SPEC = `flow fitted "A generator fitted by W2 squared"
seed 3
state theta in R^2 = [0, 1]
sample z in R^2: 30 ~ normal([0, 0], 1)
sample p in R^2: 30 ~ normal([2, 1], 0.5)
model q = push(z, s => [theta[0] + theta[1] * s[0], theta[0] + theta[1] * s[1]])
energy F = w2(q, p)^2 / 2
metric euclid
scheme euler(step = 0.5, steps = 10)
record every 5: F, theta, positions(q)
`;

describe.concurrent('the figure (issue 11: title, 1-D panel, colours, trajectories)', () => {
  it("carries the flow's name and title", async () => {
    const dir = await ran();
    await plotRun(path.join(dir, 'run'), path.join(dir, 'p.svg'));
    const t = svgTexts(path.join(dir, 'p.svg'));
    expect(t).toContain('plotted');
    expect(t).toContain('A small flow to plot');
    expect(t.indexOf('plotted')).toBeLessThan(t.indexOf('A small flow to plot'));
  });

  it('draws a density estimate per chosen record for points of R, with the target', async () => {
    const dir = await ran(ONE_D_SPEC, {});
    const r = await plotRun(path.join(dir, 'run'), path.join(dir, 'p.svg'), { records: [0, 10, 20] });
    expect(r.notes).toEqual([]);
    const svg = fs.readFileSync(path.join(dir, 'p.svg'), 'utf8');
    const t = texts(svg);
    for (const s of ['oned', 'Points of R', 'density', 'density estimate', 'mu', 'nu (target)', 'mu at step 0', 'mu at step 10', 'mu at step 20']) expect(t).toContain(s);
    // the right panel: one line per density (the target and 3 records), no symbols
    expect(svg.match(/class="mark-line role-mark concat_1_marks"/g)!.length).toBe(4);
    expect(svg).not.toContain('class="mark-symbol role-mark concat_1');
    const spec = plotSpec(loadRun(path.join(dir, 'run')), { records: [0, 20] }) as unknown as { hconcat: [unknown, { data: { values: { x: number; density: number; series: string }[] } }] };
    const values = spec.hconcat[1].data.values;
    expect(new Set(values.map((v) => v.series))).toEqual(new Set(['nu (target)', 'mu at step 0', 'mu at step 20']));
    // each estimate integrates to about 1 over the panel
    for (const series of ['nu (target)', 'mu at step 0']) {
      const v = values.filter((x) => x.series === series);
      const dx = v[1].x - v[0].x;
      expect(v.reduce((s, x) => s + x.density * dx, 0)).toBeGreaterThan(0.9);
    }
  });

  it('gives each record its own colour of a categorical palette, distinct from the targets', async () => {
    const dir = await ran();
    const view = loadRun(path.join(dir, 'run'));
    type Scatter = { layer: { encoding: { color: { scale: { domain: string[]; range: string[] } } } }[] };
    const spec = plotSpec(view, { records: [0, 10, 20, 30, 40] }) as unknown as { hconcat: [unknown, Scatter] };
    const { domain, range } = spec.hconcat[1].layer[1].encoding.color.scale;
    const records = domain.map((d, i) => [d, range[i]]).filter(([d]) => d.startsWith('mu at step'));
    expect(records.map(([, c]) => c)).toEqual(RECORD_COLORS.slice(0, 5));
    expect(new Set(range).size).toBe(range.length);
    // hues far apart: no two record colours within 30 degrees of hue of each other
    const hue = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16) / 255);
      const max = Math.max(r, g, b);
      const d = max - Math.min(r, g, b);
      const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
      return (h * 60 + 360) % 360;
    };
    const hues = RECORD_COLORS.slice(0, 5).map(hue);
    for (let i = 0; i < hues.length; i++)
      for (let j = i + 1; j < hues.length; j++) expect(Math.min(Math.abs(hues[i] - hues[j]), 360 - Math.abs(hues[i] - hues[j]))).toBeGreaterThan(30);
    // and in the SVG: the symbols of the three records drawn are filled with the first three colours
    await plotRun(path.join(dir, 'run'), path.join(dir, 'c.svg'), { records: [0, 20, 40] });
    const svg = fs.readFileSync(path.join(dir, 'c.svg'), 'utf8');
    for (const c of RECORD_COLORS.slice(0, 3)) expect(svg).toContain(`fill="${c}"`);
  });

  it('--no-trajectories leaves out the trajectories', async () => {
    const dir = await ran();
    const [withLines, without] = await Promise.all([flowc(['plot', 'run', '--out', 'a.svg'], dir), flowc(['plot', 'run', '--out', 'b.svg', '--no-trajectories'], dir)]);
    expect([withLines.code, without.code, without.stderr]).toEqual([0, 0, '']);
    const a = fs.readFileSync(path.join(dir, 'a.svg'), 'utf8');
    const b = fs.readFileSync(path.join(dir, 'b.svg'), 'utf8');
    expect(texts(a)).toContain('trajectories');
    expect(texts(b)).not.toContain('trajectories');
    // line marks in the scatter panel (its layer 0): the trajectories, then none
    const scatterLines = (svg: string) => svg.match(/class="mark-line role-mark concat_1_layer_0_marks"/g)?.length ?? 0;
    expect(scatterLines(a)).toBeGreaterThan(0);
    expect(scatterLines(b)).toBe(0);
    expect(b).toContain('class="mark-symbol role-mark concat_1');
    expect(texts(b)).toContain('mu at step 40');
  });

  it('draws a flow of states: its model over the target, not the generator\'s base sample', async () => {
    const dir = await ran(STATES_SPEC, {});
    const r = await flowc(['plot', 'run'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = svgTexts(path.join(dir, 'run', 'plot.svg'));
    for (const s of ['fitted', 'q at step 0', 'q at step 10', 'p (target)', 'q[0]']) expect(t).toContain(s);
    expect(t).not.toContain('z (target)');
  });

  it('densityEstimate: a weighted estimate follows the weights', () => {
    const grid = Array.from({ length: 101 }, (_, i) => -3 + (6 * i) / 100);
    const x = Float64Array.from([-1, -1.1, -0.9, 1, 1.1, 0.9]);
    const w = Float64Array.from([0.3, 0.3, 0.3, 0.03, 0.03, 0.04]);
    const d = densityEstimate(x, grid, w);
    expect(d[33]).toBeGreaterThan(5 * d[67]);
  });
});
