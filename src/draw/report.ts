// `flowc report`: one self-contained HTML file per run folder: the spec, the
// run's figures (run.json), the plots as inline SVG, and an animation of the
// particles over the records with a slider. Nothing is fetched when the file
// is opened: the plots are pre-rendered by Vega in Node, and the animation is
// a few lines of inline script that move SVG circles from embedded JSON.

import path from 'node:path';
import { error, FlowError } from '../compiler/diagnostics.js';
import { writeFileAtomic } from '../runtime/files.js';
import { loadRun, plotSpec, renderSvg, resolvePlotOptions, type PlotOptions, type RunView } from './plot.js';

/** At most this many particles move in the animation (evenly chosen), to keep the file small. */
const MAX_ANIMATED = 2000;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON inside <script>: no '<' at all, so no '</script>' can end it early. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** 5 significant digits: plenty for a picture, a third of the bytes of full doubles. */
const short = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(5)) : null);

/** The data the animation script reads: per record, x then y of each animated particle. */
function animationData(view: RunView, coords: [number, number]) {
  const p = view.particles;
  if (!p || p.dim < 2) return undefined;
  const [a, b] = coords;
  const stride = Math.max(1, Math.ceil(p.size / MAX_ANIMATED));
  const chosen = Array.from({ length: Math.ceil(p.size / stride) }, (_, k) => k * stride);
  const frames = Array.from({ length: p.records }, (_, rec) => chosen.flatMap((i) => [short(p.data[(rec * p.size + i) * p.dim + a]), short(p.data[(rec * p.size + i) * p.dim + b])]));
  // weighted particles (weights(mu) under KL, WFR): circle areas proportional to N · w_i
  const w = view.weights && view.weights.size === p.size && view.weights.records === p.records ? view.weights : undefined;
  const radii = w ? Array.from({ length: p.records }, (_, rec) => chosen.map((i) => short(2.6 * Math.sqrt(p.size * w.data[rec * p.size + i])))) : undefined;
  const targets = view.targets.map((t) => ({ name: t.measure, xy: Array.from({ length: t.size }, (_, i) => [short(t.data[i * t.dim + a]), short(t.data[i * t.dim + b])]).flat() }));
  return {
    particles: p.measure,
    shown: chosen.length,
    size: p.size,
    steps: view.trace.rows.slice(0, p.records).map((r) => r[0]),
    times: view.trace.rows.slice(0, p.records).map((r) => r[1]),
    labels: [view.coordNames[a], view.coordNames[b]],
    frames,
    ...(radii ? { radii } : {}),
    targets,
  };
}

// The animation: equal units on both axes, nice ticks, circles moved on each slider input.
const SCRIPT = `
(function () {
  var d = JSON.parse(document.getElementById('flow-data').textContent);
  var svg = document.getElementById('anim'), slider = document.getElementById('record');
  var label = document.getElementById('record-label'), play = document.getElementById('play');
  var NS = 'http://www.w3.org/2000/svg', W = 460, M = 44, S = W - 2 * M;
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    (parent || svg).appendChild(e);
    return e;
  }
  var xs = [], ys = [];
  function add(list) { for (var i = 0; i + 1 < list.length; i += 2) if (list[i] !== null && list[i + 1] !== null) { xs.push(list[i]); ys.push(list[i + 1]); } }
  d.frames.forEach(add);
  d.targets.forEach(function (t) { add(t.xy); });
  var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
  var half = Math.max(x1 - x0, y1 - y0, 1e-12) * 0.53, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  function sx(x) { return M + (x - cx + half) / (2 * half) * S; }
  function sy(y) { return M + (cy + half - y) / (2 * half) * S; }
  function ticks(lo, hi) {
    var raw = (hi - lo) / 5, p = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / p;
    var step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * p, out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(Math.abs(v) < step / 1e6 ? 0 : v);
    return out;
  }
  var grid = el('g', { stroke: '#eee' }), text = el('g', { fill: '#333', 'font-size': 11 });
  ticks(cx - half, cx + half).forEach(function (v) {
    el('line', { x1: sx(v), x2: sx(v), y1: M, y2: M + S }, grid);
    el('text', { x: sx(v), y: M + S + 16, 'text-anchor': 'middle' }, text).textContent = +v.toPrecision(6);
  });
  ticks(cy - half, cy + half).forEach(function (v) {
    el('line', { x1: M, x2: M + S, y1: sy(v), y2: sy(v) }, grid);
    el('text', { x: M - 6, y: sy(v) + 4, 'text-anchor': 'end' }, text).textContent = +v.toPrecision(6);
  });
  el('rect', { x: M, y: M, width: S, height: S, fill: 'none', stroke: '#888' });
  el('text', { x: M + S / 2, y: W - 6, 'text-anchor': 'middle', 'font-size': 12 }).textContent = d.labels[0];
  el('text', { x: 12, y: M + S / 2, 'text-anchor': 'middle', 'font-size': 12, transform: 'rotate(-90 12 ' + (M + S / 2) + ')' }).textContent = d.labels[1];
  var colors = ['#e6550d', '#31a354', '#756bb1'];
  d.targets.forEach(function (t, k) {
    var g = el('g', { stroke: colors[k % 3], 'stroke-width': 1.2, opacity: 0.8 });
    for (var i = 0; i + 1 < t.xy.length; i += 2) {
      var x = sx(t.xy[i]), y = sy(t.xy[i + 1]);
      el('path', { d: 'M' + (x - 3) + ' ' + y + 'h6M' + x + ' ' + (y - 3) + 'v6' }, g);
    }
  });
  var g = el('g', { fill: '#08519c', 'fill-opacity': 0.8 }), dots = [];
  for (var i = 0; i < d.shown; i++) dots.push(el('circle', { r: 2.6 }, g));
  function show(k) {
    var f = d.frames[k];
    for (var i = 0; i < dots.length; i++) {
      var ok = f[2 * i] !== null && f[2 * i + 1] !== null;
      dots[i].setAttribute('cx', ok ? sx(f[2 * i]) : -10);
      dots[i].setAttribute('cy', ok ? sy(f[2 * i + 1]) : -10);
      if (d.radii) dots[i].setAttribute('r', d.radii[k][i] || 0);
    }
    label.textContent = 'step ' + d.steps[k] + ' (t = ' + +d.times[k].toPrecision(6) + '), record ' + (k + 1) + ' of ' + d.frames.length;
  }
  slider.max = d.frames.length - 1;
  slider.addEventListener('input', function () { show(+slider.value); });
  var timer = null;
  function stop() { clearInterval(timer); timer = null; play.textContent = 'Play'; }
  play.addEventListener('click', function () {
    if (timer) return stop();
    if (+slider.value >= d.frames.length - 1) slider.value = 0;
    play.textContent = 'Pause';
    timer = setInterval(function () {
      slider.value = +slider.value + 1;
      show(+slider.value);
      if (+slider.value >= d.frames.length - 1) stop();
    }, 150);
  });
  show(0);
})();
`;

const STYLE = `
body { font: 15px/1.45 Helvetica, Arial, sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.1em; } h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.sub { color: #555; margin-top: 0; } .status { padding: 0.1em 0.5em; border-radius: 4px; background: #e5f5e0; color: #1b5e20; }
.status.diverged { background: #fde0dd; color: #8e1b10; }
pre { background: #f7f7f7; padding: 0.8em 1em; overflow-x: auto; font-size: 13px; line-height: 1.35; border-radius: 4px; }
table { border-collapse: collapse; font-size: 14px; } td, th { padding: 0.2em 1em 0.2em 0; text-align: left; vertical-align: top; }
th { font-weight: normal; color: #555; } .figure svg { max-width: 100%; height: auto; }
.controls { display: flex; align-items: center; gap: 1em; } #record { width: 320px; }
.legend span { margin-right: 1.2em; } .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; background: #08519c; }
`;

const fmt = (v: unknown): string => (typeof v === 'number' ? String(+v.toPrecision(6)) : Array.isArray(v) ? `[${v.map(fmt).join(', ')}]` : String(v));

/** The run's figures, from run.json. */
function figuresTable(view: RunView): string {
  const m = view.meta;
  const rows: [string, string][] = [
    ['status', m.status + (m.divergence ? ` at step ${m.divergence.step}: ${m.divergence.quantity} is ${m.divergence.value}` : '')],
    ['backend', m.backend ? `${m.backend.name} (${m.backend.precision}${m.backend.threads ? `, ${m.backend.threads} thread${m.backend.threads === 1 ? '' : 's'}` : ''})` : '—'],
    ['metric, scheme', `${m.metric?.name ?? '—'}, ${m.scheme?.name ?? '—'} step ${m.scheme?.step} · ${m.steps} of ${m.scheme?.steps} steps`],
    ['seed', fmt(m.seed)],
    ['constants', Object.entries(m.constants ?? {}).map(([k, v]) => `${k} = ${fmt(v)}`).join(', ') || '—'],
    ['--set', Object.entries(m.set ?? {}).map(([k, v]) => `${k} = ${fmt(v)}`).join(', ') || '—'],
    ...m.measures.map((x): [string, string] => [`${x.role} ${x.name}`, `${x.points} points in ${x.space ?? `R^${x.dim}`}, from ${x.source}`]),
    ['final', Object.entries(m.final ?? {}).map(([k, v]) => `${k} = ${fmt(v)}`).join(', ')],
    ['time (ms)', Object.entries(m.timings_ms ?? {}).map(([k, v]) => `${k} ${fmt(Math.round(Number(v) * 10) / 10)}`).join(' · ')],
    ['flowc, node', `${m.flowc ?? '—'}, ${m.node ?? '—'}`],
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

/** The report of a loaded run, as one HTML document. */
export async function reportHtml(view: RunView, options: PlotOptions = {}): Promise<string> {
  const opts = resolvePlotOptions(view, { columns: view.trace.columns.slice(2), ...options });
  const svg = await renderSvg(plotSpec(view, opts));
  const anim = animationData(view, opts.coords);
  const { name, title } = view.meta.flow;
  const diverged = view.meta.status !== 'ok';
  const animation = anim
    ? `<h2>The particles over time</h2>
<div class="controls"><button id="play" type="button">Play</button><input id="record" type="range" min="0" max="0" step="1" value="0" aria-label="record"><span id="record-label"></span></div>
<svg id="anim" width="460" height="460" viewBox="0 0 460 460" role="img" aria-label="particles at the chosen record"></svg>
<p class="legend"><span><span class="dot"></span> ${escapeHtml(anim.particles)}${anim.shown < anim.size ? ` (${anim.shown} of ${anim.size} particles)` : ''}${anim.radii ? ', area ∝ weight' : ''}</span>${anim.targets.map((t) => `<span>+ ${escapeHtml(t.name)} (target)</span>`).join('')}</p>
<script type="application/json" id="flow-data">${scriptJson(anim)}</script>
<script>${SCRIPT}</script>`
    : '<p>The spec records no positions of the particles in R^2 or more, so there is no animation: add <code>positions(NAME)</code> to its record line.</p>';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(name)} — flowc report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(name)} <span class="status${diverged ? ' diverged' : ''}">${escapeHtml(view.meta.status)}</span></h1>
${title ? `<p class="sub">${escapeHtml(title)}</p>` : ''}
<h2>Figures</h2>
${figuresTable(view)}
<h2>Plots</h2>
<div class="figure">${svg}</div>
${animation}
<h2>The spec</h2>
<p class="sub">${escapeHtml(typeof view.meta.spec === 'object' ? `${view.meta.spec.file} (sha256 ${view.meta.spec.sha256})` : (view.meta.spec ?? ''))}</p>
${view.source !== undefined ? `<pre>${escapeHtml(view.source)}</pre>` : '<p>run.json holds no spec text (a run folder of an older flowc).</p>'}
</body>
</html>
`;
}

/** `flowc report RUN_DIR`: write the report (default RUN_DIR/report.html). Returns the file and the notes. */
export async function reportRun(dir: string, out: string | undefined, options: PlotOptions = {}): Promise<{ file: string; notes: string[] }> {
  const file = out ?? path.join(dir, 'report.html');
  if (!/\.html?$/i.test(file)) throw new FlowError(error(file, undefined, 'the report file must end in .html'));
  const view = loadRun(dir);
  writeFileAtomic(file, await reportHtml(view, options));
  return { file, notes: view.notes };
}
