// `flowc plot DIR` and `flowc report DIR` on a sweep folder (src/study/sweep.ts):
//   left   a column (the energy by default) against the step for every grid
//          point of every spec: the median over seeds, with a min–max band
//   right  the final value against a grid parameter (the first, or --by),
//          median over seeds with min–max error bars; log axes when every
//          value is positive and they span more than a decade
// The report puts the aggregate table and the figure in one HTML page.

import fs from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { error, FlowError } from '../compiler/diagnostics.js';
import { writeFileAtomic } from '../runtime/files.js';
import { aggregate, collect, readPlan, type SweepPlan } from '../study/sweep.js';
import { renderSvg, svgToPng } from './plot.js';

export interface SweepPlotOptions {
  /** the trace column to draw (default: the energy, the third column) */
  column?: string;
  /** the grid parameter on the x axis of the right panel (default: the first) */
  by?: string;
}

export function isSweepFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'sweep.json'));
}

function readTrace(file: string): { columns: string[]; rows: number[][] } | undefined {
  if (!fs.existsSync(file)) return undefined;
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const columns = lines[0].split(',');
  return { columns, rows: lines.slice(1).map((l) => l.split(',').map(Number)) };
}

const label = (spec: string, values: Record<string, number>) =>
  [spec, ...Object.entries(values).map(([k, v]) => `${k}=${v}`)].join(' ');

const wideLog = (xs: number[]) => xs.length > 0 && xs.every((x) => x > 0) && Math.max(...xs) / Math.min(...xs) > 10;

/** The Vega-Lite spec of a sweep's figure, and what it could not show. */
export function sweepSpec(dir: string, plan: SweepPlan, options: SweepPlotOptions = {}): { spec: TopLevelSpec; notes: string[]; column: string } {
  const notes: string[] = [];
  const rows = collect(plan, dir);
  // the curves: per (spec, grid point, step) the median, min and max over seeds
  const curves = new Map<string, Map<number, number[]>>();
  let column = options.column;
  for (const r of rows) {
    const t = readTrace(path.join(dir, r.dir, 'trace.csv'));
    if (!t) continue;
    column ??= t.columns[2];
    const k = t.columns.indexOf(column);
    if (k < 0) continue;
    const key = label(r.spec, r.values);
    if (!curves.has(key)) curves.set(key, new Map());
    for (const row of t.rows) {
      const m = curves.get(key)!;
      if (!m.has(row[0])) m.set(row[0], []);
      if (Number.isFinite(row[k])) m.get(row[0])!.push(row[k]);
    }
  }
  if (!column) throw new FlowError(error(dir, undefined, 'no run of this sweep has a trace yet (flowc sweep DIR --resume, or --collect after a Slurm job)'));
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const curveData = [...curves].flatMap(([key, m]) =>
    [...m].filter(([, xs]) => xs.length).map(([step, xs]) => ({ run: key, step, median: med(xs), min: Math.min(...xs), max: Math.max(...xs) })),
  );
  const yLog = wideLog(curveData.flatMap((d) => [d.min, d.max]));
  const color = { field: 'run', type: 'nominal', title: 'spec, grid point' };
  const left = {
    width: 380,
    height: 280,
    title: `${column} over the steps (median over seeds, min–max band)`,
    data: { values: curveData },
    layer: [
      { mark: { type: 'area', opacity: 0.18 }, encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'min', type: 'quantitative', scale: { type: yLog ? 'log' : 'linear' }, title: column }, y2: { field: 'max' }, color } },
      { mark: { type: 'line' }, encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'median', type: 'quantitative' }, color } },
    ],
  };
  const panels: object[] = [left];
  const by = options.by ?? plan.grid[0]?.name;
  if (options.by && !plan.grid.some((g) => g.name === options.by))
    throw new FlowError(error(dir, undefined, `--by ${options.by}: the sweep's grid has ${plan.grid.map((g) => g.name).join(', ') || 'no parameter'}`));
  if (by) {
    const agg = aggregate(plan, rows).filter((a) => a.stats[column!]);
    const finals = agg.map((a) => ({ spec: a.spec, x: a.values[by], median: a.stats[column!].median, min: a.stats[column!].min, max: a.stats[column!].max, rest: label(a.spec, Object.fromEntries(Object.entries(a.values).filter(([k]) => k !== by))) }));
    const xLog = wideLog(finals.map((f) => f.x));
    const fLog = wideLog(finals.flatMap((f) => [f.min, f.max]));
    panels.push({
      width: 300,
      height: 280,
      title: `final ${column} against ${by}`,
      data: { values: finals },
      layer: [
        { mark: { type: 'rule' }, encoding: { x: { field: 'x', type: 'quantitative', scale: axisScale(xLog), title: by }, y: { field: 'min', type: 'quantitative', scale: axisScale(fLog), title: `final ${column}` }, y2: { field: 'max' }, color: { field: 'rest', type: 'nominal', title: 'spec, other parameters' } } },
        { mark: { type: 'line', point: true }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'median', type: 'quantitative' }, color: { field: 'rest', type: 'nominal' } } },
      ],
    });
  } else notes.push('the sweep has no grid: only the curves are drawn');
  const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', title: `sweep of ${plan.specs.map((s) => s.name).join(', ')}`, hconcat: panels, resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } } } as unknown as TopLevelSpec;
  return { spec, notes, column };
}

/** a log axis, or a linear one that need not include 0 (vega-lite warns on the terminal when `zero` is given with `log`) */
const axisScale = (log: boolean) => (log ? { type: 'log' } : { type: 'linear', zero: false });

/** `flowc plot DIR` on a sweep folder: SVG, or PNG when `out` ends in .png (default DIR/plot.svg). */
export async function plotSweep(dir: string, out: string | undefined, options: SweepPlotOptions = {}): Promise<{ file: string; notes: string[] }> {
  const plan = readPlan(dir);
  const file = out ?? path.join(dir, 'plot.svg');
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new FlowError(error(file, undefined, 'the plot file must end in .svg or .png'));
  const { spec, notes } = sweepSpec(dir, plan, options);
  const svg = await renderSvg(spec);
  writeFileAtomic(file, ext === '.png' ? svgToPng(svg) : svg);
  return { file, notes };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `flowc report DIR` on a sweep folder: one self-contained HTML page with the aggregate table and the figure. */
export async function reportSweep(dir: string, out: string | undefined, options: SweepPlotOptions = {}): Promise<{ file: string; notes: string[] }> {
  const plan = readPlan(dir);
  const file = out ?? path.join(dir, 'report.html');
  const { spec, notes, column } = sweepSpec(dir, plan, options);
  const svg = await renderSvg(spec);
  const rows = collect(plan, dir);
  const agg = aggregate(plan, rows);
  const grid = plan.grid.map((g) => g.name);
  const cols = [...new Set(agg.flatMap((a) => Object.keys(a.stats)))];
  const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));
  const table = [
    '<table><thead><tr>',
    ['spec', ...grid, 'runs', 'ok', ...cols.map((c) => `${c} (median [min, max])`)].map((h) => `<th>${escapeHtml(h)}</th>`).join(''),
    '</tr></thead><tbody>',
    ...agg.map(
      (a) =>
        '<tr>' +
        [a.spec, ...grid.map((g) => String(a.values[g])), String(a.runs), String(a.ok), ...cols.map((c) => (a.stats[c] ? `${fmt(a.stats[c].median)} [${fmt(a.stats[c].min)}, ${fmt(a.stats[c].max)}]` : ''))]
          .map((x) => `<td>${escapeHtml(x)}</td>`)
          .join('') +
        '</tr>',
    ),
    '</tbody></table>',
  ].join('');
  const failed = rows.filter((r) => r.status !== 'ok');
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>flowc sweep: ${escapeHtml(plan.specs.map((s) => s.name).join(', '))}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}pre{background:#f7f7f7;padding:1em;overflow:auto}</style></head>
<body><h1>Sweep of ${escapeHtml(plan.specs.map((s) => s.name).join(', '))}</h1>
<p>${rows.length} runs: grid ${escapeHtml(plan.grid.map((g) => `${g.name} ∈ {${g.values.join(', ')}}`).join(' × ') || '(none)')}, seeds ${escapeHtml(plan.seeds ? plan.seeds.join(', ') : "the spec's")}${failed.length ? `; not ok: ${escapeHtml(failed.map((r) => `${r.dir} (${r.status})`).join(', '))}` : ''}.</p>
<h2>Final values, over seeds</h2>${table}
<h2>${escapeHtml(column)}</h2>${svg}
${plan.specs.map((s) => `<h2>${escapeHtml(s.name)}.flow</h2><pre>${escapeHtml(s.text)}</pre>`).join('\n')}
</body></html>
`;
  writeFileAtomic(file, html);
  return { file, notes };
}
