// `flowc plot`: the figures of a run folder, drawn with Vega-Lite and
// rendered without a browser (vega's headless View → SVG; resvg → PNG).
//
// The flow's name and title on top; two panels side by side: the energy
// curve (and any other recorded scalar, one small panel each, log scale when
// every value is positive), and the particles at chosen records (each record
// its own colour of a categorical palette) over the fixed measures of the
// same dimension (the targets): a scatter with faint trajectories (unless
// trajectories: false), or, for points of R, a kernel density estimate per
// record. In a flow of states the evolving measure is the recorded model.

import fs from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile as compileVegaLite, type TopLevelSpec } from 'vega-lite';
import { compile as compileSource, type Compiled } from '../compiler/compile.js';
import { error, FlowError } from '../compiler/diagnostics.js';
import type { Type } from '../compiler/types.js';
import { loadMeasures, type MeasureData } from '../runtime/inputs.js';
import { writeFileAtomic } from '../runtime/files.js';
import { decodeNpy } from '../runtime/npy.js';
import { readRunJson } from '../runtime/schemas.js';
import { inputNpyName, npyName } from '../runtime/outputs.js';

/** run.json as plots and reports read it (see runJson in main.ts). */
export interface RunMeta {
  flowc?: string;
  node?: string;
  /** the spec's path, full text and sha256 (older run folders: its path only) */
  spec?: string | { file: string; sha256: string; text: string };
  flow: { name: string; title?: string };
  status: string;
  divergence?: { step: number; quantity: string; value: number | string };
  backend?: { name: string; precision: string; threads?: number };
  seed?: number;
  constants?: Record<string, number | number[]>;
  set: Record<string, number[]>;
  metric?: { name: string };
  scheme?: { name: string; step: number; steps: number };
  steps: number;
  measures: { name: string; role: 'particles' | 'sample' | 'model'; points: number; dim: number; space?: string; columns?: string[]; source: string }[];
  timings_ms?: Record<string, number>;
  final?: Record<string, number | string>;
  files?: string[];
}

/** A point cloud per record: data is records × size × dim, row-major. */
export interface Cloud {
  measure: string;
  records: number;
  size: number;
  dim: number;
  data: Float64Array;
}

/** A run folder read back: run.json, trace.csv, the .npy files, and what the spec adds. */
export interface RunView {
  dir: string;
  meta: RunMeta;
  trace: { columns: string[]; rows: number[][] };
  /** the recorded positions of the particles, when the spec records them */
  particles?: Cloud;
  /** the particles' recorded weights (metrics KL, WFR: a weights(mu) item), records × size */
  weights?: { records: number; size: number; data: Float64Array };
  /** fixed measures with the particles' dimension (one record each) */
  targets: Cloud[];
  /** names of the particles' coordinates: x[0], x[1] or a record's blocks (w, theta[0], ...) */
  coordNames: string[];
  /** the spec's source text, when its file is still readable */
  source?: string;
  /** what could not be read (shown as warnings, never fatal) */
  notes: string[];
}

/** Split one CSV line, honouring double quotes (column names may hold commas). */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') fields.push(cur), (cur = '');
    else cur += c;
  }
  fields.push(cur);
  return fields;
}

/** Coordinate names of a value of `type` called `name`, in its flat layout: mu[0], mu[1]; or a record's w, theta[0], ... */
function coordinateNames(type: Type, name: string, top = true): string[] {
  if (type.t === 'scalar') return [name];
  if (type.t === 'vec') return Array.from({ length: type.n }, (_, i) => `${name}[${i}]`);
  return type.blocks.flatMap((b) => coordinateNames(b.type, top ? b.name : `${name}.${b.name}`, false));
}

/**
 * Recompile the spec of a run, as run.json holds its text (with its --set
 * values), for the record layout and the targets drawn from distributions.
 * Nothing outside the run folder is read: not the spec's file (it may have
 * changed since the run), not a path that run.json names.
 */
function recompile(meta: RunMeta, notes: string[]): { compiled?: Compiled; source?: string } {
  if (typeof meta.spec !== 'object') {
    notes.push('run.json holds no spec text (a run folder of an older flowc): the plots show no targets');
    return {};
  }
  const source = meta.spec.text;
  const r = compileSource(source, { file: meta.spec.file, overrides: meta.set });
  if (!r.compiled || r.diagnostics.some((d) => d.severity === 'error')) {
    notes.push(`the spec in run.json does not compile with this flowc: the plots show no targets`);
    return { source };
  }
  return { compiled: r.compiled, source };
}

/** Read a run folder written by `flowc run`. */
export function loadRun(dir: string): RunView {
  const read = (name: string) => {
    const file = path.join(dir, name);
    try {
      return fs.readFileSync(file);
    } catch {
      throw new FlowError(error(file, undefined, `not a flowc run folder: cannot read ${name}`));
    }
  };
  if (!fs.existsSync(path.join(dir, 'run.json'))) read('run.json');
  const meta = readRunJson(dir) as unknown as RunMeta;
  meta.files ??= [];
  const lines = read('trace.csv').toString('utf8').trimEnd().split('\n');
  const trace = { columns: csvFields(lines[0]), rows: lines.slice(1).map((l) => l.split(',').map(Number)) };
  const notes: string[] = [];
  const { compiled, source } = recompile(meta, notes);

  // The .npy file of each recorded measure: the spec's record items name them exactly; without the spec, NAME.npy.
  const items = compiled?.ir.record.items.flatMap((it) => (it.kind === 'positions' ? [it] : [])) ?? meta.measures.map((m) => ({ column: m.name, measure: m.name }));
  const recorded = new Map<string, Cloud>();
  for (const it of items) {
    const name = npyName(it.column);
    if (!meta.files.includes(name) || recorded.has(it.measure)) continue;
    const { data, shape } = decodeNpy(read(name), path.join(dir, name));
    recorded.set(it.measure, { measure: it.measure, records: shape[0], size: shape[1], dim: shape[2], data });
  }

  // the evolving measure: the particles, or in a flow of states its (first recorded) model
  const particleMeta = meta.measures.find((m) => m.role === 'particles') ??
    meta.measures.find((m) => m.role === 'model' && recorded.has(m.name)) ??
    meta.measures.find((m) => m.role === 'model');
  if (!particleMeta) return { dir, meta, trace, targets: [], coordNames: [], source, notes };
  // weights(mu): marker areas in the scatter follow them
  let weights: RunView['weights'];
  const wItem = compiled?.ir.record.items.find((it) => it.kind === 'weights' && it.measure === particleMeta.name);
  if (wItem && meta.files.includes(npyName(wItem.column))) {
    const { data, shape } = decodeNpy(read(npyName(wItem.column)), path.join(dir, npyName(wItem.column)));
    weights = { records: shape[0], size: shape[1], data };
  }
  const decl = compiled?.ir.measures.find((m) => m.name === particleMeta.name);
  const coordNames = coordinateNames(decl?.type ?? { t: 'vec', n: particleMeta.dim }, particleMeta.name);

  // Targets: fixed measures of the particles' dimension, from the run folder or drawn again from the spec.
  const targets: Cloud[] = [];
  // (not the base sample of a model: it is the generator's noise, not a target)
  const bases = new Set(compiled?.ir.models.map((q) => q.base) ?? []);
  const fixed = meta.measures.filter((m) => m.role === 'sample' && m.dim === particleMeta.dim && !bases.has(m.name));
  const missing = fixed.filter((m) => !recorded.has(m.name));
  const loaded: MeasureData[] = [];
  // targets read from data files: the copies the run folder keeps (NAME.input.npy), never the files themselves
  const fromFiles = compiled?.ir.measures.filter((m) => m.source.kind === 'file' && missing.some((x) => x.name === m.name)) ?? [];
  for (const m of fromFiles) {
    const name = inputNpyName(m.name);
    if (!meta.files.includes(name)) {
      notes.push(`the target ${m.name} was read from a data file, which the run folder does not hold: the plots do not show it`);
      continue;
    }
    const { data, shape } = decodeNpy(read(name), path.join(dir, name));
    if (shape.length === 2) loaded.push({ name: m.name, data, size: shape[0], dim: shape[1] });
  }
  if (compiled && missing.length > fromFiles.length) {
    const ir = { ...compiled.ir, measures: compiled.ir.measures.filter((m) => m.source.kind === 'dist') };
    loaded.push(...loadMeasures(ir).measures);
  }
  for (const m of fixed) {
    const r = recorded.get(m.name);
    const l = loaded.find((x) => x.name === m.name);
    if (r) targets.push({ ...r, records: 1, data: r.data.subarray(0, r.size * r.dim) });
    else if (l && l.size === m.points) targets.push({ measure: m.name, records: 1, size: l.size, dim: l.dim, data: l.data });
  }
  return { dir, meta, trace, particles: recorded.get(particleMeta.name), ...(weights ? { weights } : {}), targets, coordNames, source, notes };
}

export interface PlotOptions {
  /** coordinates of the scatter (0-based); default the first two */
  coords?: [number, number];
  /** steps whose particles are drawn; default the first and the last record */
  records?: number[];
  /** scalar columns drawn as curves, each a name or a comma-separated list of names; default the energy */
  columns?: string[];
  /** the scatter's trajectories (default true; `--no-trajectories`) */
  trajectories?: boolean;
}

const FONT = 'Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif';
const MAX_TRAJECTORIES = 300;
const CONFIG = {
  background: 'white',
  font: FONT,
  view: { stroke: '#888', strokeWidth: 0.8 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', grid: true, gridColor: '#eee', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', symbolStrokeWidth: 1.5 },
} as const;

/**
 * `F,m2` → ['F', 'm2']. A column name may itself hold commas (an unnamed
 * record item `mmd2(mu, nu; k)`), so pieces are joined back until they name
 * a column.
 */
function splitColumns(text: string, known: string[]): string[] {
  const columns: string[] = [];
  let cur: string | undefined;
  for (const piece of text.split(',')) {
    cur = cur === undefined ? piece.trim() : `${cur},${piece}`;
    if (known.includes(cur.trim())) columns.push(cur.trim()), (cur = undefined);
  }
  if (cur !== undefined) columns.push(cur.trim());
  return columns;
}

/** Check the options against the run and fill in the defaults. */
export function resolvePlotOptions(view: RunView, opts: PlotOptions): Required<PlotOptions> {
  const bad = (message: string) => new FlowError(error(view.dir, undefined, message));
  const scalars = view.trace.columns.slice(2);
  const columns = opts.columns?.flatMap((c) => (scalars.includes(c) ? [c] : splitColumns(c, scalars))) ?? scalars.slice(0, 1);
  for (const c of columns) if (!scalars.includes(c)) throw bad(`no recorded scalar '${c}'; the run has ${scalars.map((s) => `'${s}'`).join(', ')}`);
  const steps = view.trace.rows.map((r) => r[0]);
  const records = opts.records ?? [...new Set([steps[0], steps[steps.length - 1]])];
  for (const s of records) if (!steps.includes(s)) throw bad(`step ${s} was not recorded; the recorded steps are ${steps.join(', ')}`);
  const dim = view.particles?.dim ?? view.coordNames.length;
  const coords = opts.coords ?? [0, 1];
  if (dim >= 2 && coords.some((c) => c >= dim)) throw bad(`--coords ${coords.join(',')}: the particles have coordinates 0 to ${dim - 1}`);
  return { coords, records, columns, trajectories: opts.trajectories ?? true };
}

/**
 * The colours of the records drawn (Tableau 10 without its grey): a
 * categorical palette, so that two records never differ only by a shade.
 * Targets are drawn in black and greys, as crosses or dashed curves.
 */
export const RECORD_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f'];
const TARGET_COLORS = ['#222222', '#777777', '#aaaaaa'];
const recordColor = (k: number) => RECORD_COLORS[k % RECORD_COLORS.length];

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

/**
 * A log axis labelled at the powers of ten only (10⁻³, 10⁻², ...), as in
 * print; when the values span less than a decade, Vega's own ticks.
 */
function logAxis(values: number[], title: string): object {
  const lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.ceil(Math.log10(Math.max(...values)));
  if (hi - lo < 2) return { title, format: '.2~g' };
  const step = Math.ceil((hi - lo) / 8);
  const powers = Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, k) => lo + k * step);
  const label = (e: number) => (e === 0 ? '1' : e === 1 ? '10' : '10' + [...String(e)].map((c) => SUPERSCRIPT[c]).join(''));
  const expr = powers.map((e) => `datum.value === 1e${e} ? '${label(e)}' : `).join('') + "''";
  return { title, values: powers.map((e) => Number(`1e${e}`)), labelExpr: expr };
}

/** One panel per scalar column against the step; log scale when every value is positive. */
function curvePanels(view: RunView, columns: string[]): object[] {
  const steps = view.trace.rows.map((r) => r[0]);
  return columns.map((column) => {
    const k = view.trace.columns.indexOf(column);
    const values = view.trace.rows.filter((r) => Number.isFinite(r[k])).map((r) => ({ step: r[0], value: r[k] }));
    const log = values.length > 0 && values.every((v) => v.value > 0);
    return {
      width: 320,
      height: columns.length > 1 ? 150 : 320,
      data: { values },
      mark: { type: 'line', color: '#1f4e99', strokeWidth: 1.8, point: { size: 14, color: '#1f4e99' } },
      encoding: {
        // every recorded step, even where a diverged value is left out
        x: { field: 'step', type: 'quantitative', title: 'step', scale: { domain: [steps[0], steps[steps.length - 1]] }, axis: { tickMinStep: 1, format: 'd' } },
        y: log
          ? { field: 'value', type: 'quantitative', scale: { type: 'log' }, axis: logAxis(values.map((v) => v.value), `${column} (log scale)`) }
          : { field: 'value', type: 'quantitative', scale: { zero: false }, axis: { title: column, format: '~g' } },
      },
    };
  });
}

/** Equal units on both axes: one square domain around all the points. */
function squareDomain(xs: number[], ys: number[]): { x: [number, number]; y: [number, number] } {
  const span = (v: number[]) => [Math.min(...v), Math.max(...v)] as const;
  const [x0, x1] = span(xs);
  const [y0, y1] = span(ys);
  const half = (Math.max(x1 - x0, y1 - y0, 1e-12) / 2) * 1.06;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return { x: [cx - half, cx + half], y: [cy - half, cy + half] };
}

/** The scatter panel: trajectories, targets, then the particles at each chosen record. */
function scatterPanel(view: RunView, opts: Required<PlotOptions>): object | undefined {
  const p = view.particles;
  if (!p || p.dim < 2) return undefined;
  const [a, b] = opts.coords;
  const steps = view.trace.rows.map((r) => r[0]);
  const at = (rec: number, i: number, c: number) => p.data[(rec * p.size + i) * p.dim + c];

  const stride = Math.max(1, Math.ceil(p.size / MAX_TRAJECTORIES));
  const paths: object[] = [];
  for (let i = 0; i < p.size; i += stride)
    for (let rec = 0; rec < p.records; rec++) paths.push({ id: i, rec, x: at(rec, i, a), y: at(rec, i, b), series: 'trajectories' });

  const series: string[] = [];
  const colors: string[] = [];
  const shapes: string[] = [];
  const size = Math.max(6, Math.min(28, 28 * Math.sqrt(200 / p.size)));
  // weighted particles: marker area proportional to N · w_i (uniform weights: the usual size)
  const w = view.weights && view.weights.size === p.size && view.weights.records === p.records ? view.weights : undefined;
  const area = (rec: number, i: number) => (w ? size * p.size * w.data[rec * w.size + i] : size);
  const points: { x: number; y: number; series: string; area: number }[] = [];
  for (const t of view.targets) {
    const name = `${t.measure} (target)`;
    series.push(name), colors.push(TARGET_COLORS[view.targets.indexOf(t) % TARGET_COLORS.length]), shapes.push('cross');
    for (let i = 0; i < t.size; i++) points.push({ x: t.data[i * t.dim + a], y: t.data[i * t.dim + b], series: name, area: size });
  }
  opts.records.forEach((step, k) => {
    const name = `${p.measure} at step ${step}`;
    series.push(name), colors.push(recordColor(k)), shapes.push('circle');
    const rec = steps.indexOf(step);
    for (let i = 0; i < p.size; i++) points.push({ x: at(rec, i, a), y: at(rec, i, b), series: name, area: area(rec, i) });
  });
  if (opts.trajectories) series.push('trajectories'), colors.push('#999999'), shapes.push('stroke');
  else paths.length = 0;

  const all = [...points, ...(paths as { x: number; y: number }[])].filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
  const domain = squareDomain(
    all.map((q) => q.x),
    all.map((q) => q.y),
  );
  const color = { field: 'series', type: 'nominal', title: w ? `area ∝ weight of ${p.measure}` : null, scale: { domain: series, range: colors }, legend: { orient: 'right', symbolOpacity: 1 } };
  const shape = { field: 'series', type: 'nominal', title: null, scale: { domain: series, range: shapes } };
  return {
    width: 320,
    height: 320,
    encoding: {
      x: { field: 'x', type: 'quantitative', title: view.coordNames[a], scale: { domain: domain.x, nice: false, zero: false } },
      y: { field: 'y', type: 'quantitative', title: view.coordNames[b], scale: { domain: domain.y, nice: false, zero: false } },
    },
    layer: [
      ...(opts.trajectories
        ? [{ data: { values: paths }, mark: { type: 'line', strokeWidth: 0.6, opacity: 0.35, clip: true }, encoding: { detail: { field: 'id' }, order: { field: 'rec' }, color } }]
        : []),
      {
        data: { values: points },
        mark: { type: 'point', filled: true, opacity: 0.85, strokeWidth: 1.4, clip: true },
        encoding: { color, shape, size: { field: 'area', type: 'quantitative', scale: null, legend: null } },
      },
    ],
  };
}

/** Points of the density curves of a 1-D panel. */
const DENSITY_GRID = 200;
/** Above this many points a density estimate uses an evenly spaced subset (the curve changes by less than the line width). */
const DENSITY_MAX_POINTS = 20000;

/**
 * A Gaussian kernel density estimate on `grid` (Silverman's rule of thumb
 * for the bandwidth, 0.9 min(sd, IQR/1.34) n^-1/5; weighted when `w` is
 * given).
 */
export function densityEstimate(values: Float64Array, grid: number[], w?: Float64Array): number[] {
  const stride = Math.max(1, Math.ceil(values.length / DENSITY_MAX_POINTS));
  const idx = Array.from({ length: Math.ceil(values.length / stride) }, (_, k) => k * stride).filter((i) => Number.isFinite(values[i]));
  if (!idx.length) return grid.map(() => 0);
  const weight = idx.map((i) => (w ? w[i] : 1));
  const total = weight.reduce((a, b) => a + b, 0) || 1;
  const mean = idx.reduce((s, i, k) => s + weight[k] * values[i], 0) / total;
  const sd = Math.sqrt(idx.reduce((s, i, k) => s + weight[k] * (values[i] - mean) ** 2, 0) / total);
  const sorted = idx.map((i) => values[i]).sort((a, b) => a - b);
  const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
  const iqr = (q(0.75) - q(0.25)) / 1.34;
  const spread = Math.min(sd, iqr > 0 ? iqr : sd);
  const range = grid[grid.length - 1] - grid[0];
  const h = Math.max(0.9 * spread * idx.length ** -0.2, range / 1000, 1e-12);
  const c = 1 / (total * h * Math.sqrt(2 * Math.PI));
  return grid.map((g) => {
    let s = 0;
    idx.forEach((i, k) => {
      const z = (g - values[i]) / h;
      if (z * z < 60) s += weight[k] * Math.exp(-0.5 * z * z);
    });
    return s * c;
  });
}

/** The panel of points of R: a density estimate of the particles at each chosen record, the targets' dashed. */
function densityPanel(view: RunView, opts: Required<PlotOptions>): object | undefined {
  const p = view.particles;
  if (!p || p.dim !== 1) return undefined;
  const steps = view.trace.rows.map((r) => r[0]);
  const clouds: { name: string; color: string; dash: number[]; values: Float64Array; w?: Float64Array }[] = [];
  for (const t of view.targets)
    clouds.push({ name: `${t.measure} (target)`, color: TARGET_COLORS[view.targets.indexOf(t) % TARGET_COLORS.length], dash: [5, 3], values: t.data.subarray(0, t.size) });
  const w = view.weights && view.weights.size === p.size && view.weights.records === p.records ? view.weights : undefined;
  opts.records.forEach((step, k) => {
    const rec = steps.indexOf(step);
    clouds.push({
      name: `${p.measure} at step ${step}`,
      color: recordColor(k),
      dash: [],
      values: p.data.subarray(rec * p.size, (rec + 1) * p.size),
      ...(w ? { w: w.data.subarray(rec * w.size, (rec + 1) * w.size) } : {}),
    });
  });
  const all = clouds.flatMap((c) => Array.from(c.values).filter(Number.isFinite));
  if (!all.length) return undefined;
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  const pad = Math.max((hi - lo) * 0.08, 1e-6);
  [lo, hi] = [lo - pad, hi + pad];
  const grid = Array.from({ length: DENSITY_GRID }, (_, i) => lo + ((hi - lo) * i) / (DENSITY_GRID - 1));
  const values = clouds.flatMap((c) => densityEstimate(c.values, grid, c.w).map((density, i) => ({ x: grid[i], density, series: c.name })));
  const color = { field: 'series', type: 'nominal', title: 'density estimate', scale: { domain: clouds.map((c) => c.name), range: clouds.map((c) => c.color) }, legend: { orient: 'right' } };
  return {
    width: 320,
    height: 320,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.8, clip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: view.coordNames[0], scale: { domain: [lo, hi], nice: false, zero: false } },
      y: { field: 'density', type: 'quantitative', title: 'density' },
      color,
      strokeDash: { field: 'series', type: 'nominal', scale: { domain: clouds.map((c) => c.name), range: clouds.map((c) => c.dash) }, title: 'density estimate', legend: { orient: 'right' } },
    },
  };
}

/** The Vega-Lite spec of a run's figure. */
export function plotSpec(view: RunView, options: PlotOptions = {}): TopLevelSpec {
  const opts = resolvePlotOptions(view, options);
  const curves = curvePanels(view, opts.columns);
  const right = scatterPanel(view, opts) ?? densityPanel(view, opts);
  const left = curves.length === 1 ? curves[0] : { vconcat: curves };
  const { name, title } = view.meta.flow;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    padding: 8,
    // the flow's name, and its title under it
    title: { text: name, ...(title ? { subtitle: title } : {}), anchor: 'start', fontSize: 15, fontWeight: 'bold', subtitleFontSize: 12, subtitleColor: '#444', offset: 12 },
    ...(right ? { hconcat: [left, right], spacing: 36 } : left),
  } as TopLevelSpec;
}

/** Render a Vega-Lite spec to an SVG document (no browser, no canvas). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileVegaLite(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterise an SVG at `scale` times its size (3 gives about 300 dpi at print size), on white. */
export function svgToPng(svg: string, scale = 3): Buffer {
  const resvg = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' } });
  return Buffer.from(resvg.render().asPng());
}

/** `flowc plot RUN_DIR`: write the figure as SVG, or PNG when the file name ends in .png. Returns the file and the notes. */
export async function plotRun(dir: string, out: string | undefined, options: PlotOptions = {}): Promise<{ file: string; notes: string[] }> {
  const view = loadRun(dir);
  const file = out ?? path.join(dir, 'plot.svg');
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new FlowError(error(file, undefined, 'the plot file must end in .svg or .png'));
  const svg = await renderSvg(plotSpec(view, options));
  writeFileAtomic(file, ext === '.png' ? svgToPng(svg) : svg);
  const notes = [...view.notes];
  if (!view.particles) notes.push('the spec records no positions of the particles: the plot shows the curves only (add positions(NAME) to its record line)');

  return { file, notes };
}
