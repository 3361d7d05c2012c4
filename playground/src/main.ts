// The playground page: an editor with the compiler's diagnostics as you
// type, the example specs, Run / Stop (the flow runs in a Web Worker,
// run-worker.ts), the particles and the energy drawn live, the run folder's
// files to download, and the spec carried in the page's address.

import { defaultKeymap, history as undoHistory, historyKeymap } from '@codemirror/commands';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine } from '@codemirror/view';
import { bracketMatching } from '@codemirror/language';
import { linter, lintGutter, type Diagnostic as LintDiagnostic } from '@codemirror/lint';
import { compile } from '../../src/compiler/compile.js';
import { formatDiagnosticShort, type Diagnostic } from '../../src/compiler/diagnostics.js';
import workerSource from 'virtual:worker';
import examples from 'virtual:examples';
import { flowHighlight } from './highlight.js';
import { CTL, type BackendChoice, type FromWorker, type RunInfo } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const exampleSelect = $<HTMLSelectElement>('example');
const backendSelect = $<HTMLSelectElement>('backend');
const stepsInput = $<HTMLInputElement>('steps');
const threadsSelect = $<HTMLSelectElement>('threads');
const coordX = $<HTMLInputElement>('coord-x');
const coordY = $<HTMLInputElement>('coord-y');
const runButton = $<HTMLButtonElement>('run');
const stopButton = $<HTMLButtonElement>('stop');
const problems = $<HTMLUListElement>('problems');
const statusEl = $<HTMLSpanElement>('status');

// ------------------------------------------------------------ what runs here

/** WebAssembly with shared memory (the cpu backend's module imports one) needs a cross-origin isolated page: `flowc playground` serves it so. */
const wasmOk = (() => {
  try {
    return globalThis.crossOriginIsolated === true && new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
})();
// worker threads share the backend's memory: a cross-origin isolated page only
for (let n = 1; n <= (wasmOk ? Math.max(navigator.hardwareConcurrency || 1, 4) : 1); n++) threadsSelect.add(new Option(String(n), String(n)));
threadsSelect.disabled = !wasmOk;
// gpu.js's webgpu mode on the browser's WebGPU, where it has one (whether it has an adapter is known when a run asks)
(backendSelect.querySelector('option[value="gpu:webgpu"]') as HTMLOptionElement).disabled = !('gpu' in navigator);
if (!wasmOk) {
  (backendSelect.querySelector('option[value="cpu"]') as HTMLOptionElement).disabled = true;
  backendSelect.value = 'cpu:js';
}
$('backend-note').textContent = wasmOk
  ? 'The flow runs in a Web Worker (its worker threads as more Web Workers), float64: the same numbers as flowc run with the same backend.'
  : 'This page is not cross-origin isolated (opened from a file, or served without COOP/COEP headers), so WebAssembly shared memory is off: the flow runs on cpu:js (generated JavaScript, float64). flowc playground serves the page isolated.';

// ------------------------------------------------------------ the spec, its file name and data

const DATA: Record<string, Uint8Array> = Object.fromEntries(Object.entries(examples.data).map(([f, text]) => [`specs/${f}`, new TextEncoder().encode(text)]));
const dropped: Record<string, Uint8Array> = {};
let specName = 'mmd-three-modes';
const specFile = () => `specs/${specName}.flow`;

for (const s of examples.specs) exampleSelect.add(new Option(s.name, s.name));

function readHash(): { name?: string; source?: string; steps?: string; backend?: string; threads?: string } {
  const p = new URLSearchParams(location.hash.slice(1));
  const spec = p.get('spec');
  let source: string | undefined;
  if (spec)
    try {
      const b64 = spec.replace(/-/g, '+').replace(/_/g, '/');
      source = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    } catch {
      source = undefined;
    }
  return { name: p.get('name') ?? undefined, source, steps: p.get('steps') ?? undefined, backend: p.get('backend') ?? undefined, threads: p.get('threads') ?? undefined };
}

function writeHash(): void {
  const bytes = new TextEncoder().encode(view.state.doc.toString());
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  const p = new URLSearchParams({ name: specName, spec: btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') });
  if (stepsInput.value) p.set('steps', stepsInput.value);
  if (threadsSelect.value !== 'auto') p.set('threads', threadsSelect.value);
  p.set('backend', backendSelect.value);
  history.replaceState(null, '', `#${p}`);
}

// ------------------------------------------------------------ the editor and its diagnostics

function check(source: string): Diagnostic[] {
  try {
    return compile(source, { file: specFile() }).diagnostics;
  } catch (e) {
    return [{ severity: 'error', file: specFile(), message: `internal error: ${e instanceof Error ? e.message : String(e)}` }];
  }
}

function showProblems(diags: Diagnostic[]): void {
  problems.replaceChildren(
    ...diags.map((d) => {
      const li = document.createElement('li');
      li.className = d.severity;
      if (d.span) li.dataset.line = String(d.span.line);
      li.textContent = formatDiagnosticShort(d);
      return li;
    }),
  );
}

const flowLinter = linter(
  (v) => {
    const source = v.state.doc.toString();
    const diags = check(source);
    showProblems(diags);
    const len = source.length;
    return diags
      .filter((d) => d.file === specFile())
      .map((d): LintDiagnostic => {
        const from = Math.min(d.span?.start ?? 0, len);
        return { from, to: Math.min(Math.max(d.span?.end ?? from, from), len), severity: d.severity, message: d.message };
      });
  },
  { delay: 300 },
);

const view = new EditorView({
  parent: $('editor'),
  state: EditorState.create({
    doc: '',
    extensions: [lineNumbers(), highlightActiveLine(), bracketMatching(), undoHistory(), keymap.of([{ key: 'Mod-Enter', run: () => (runButton.disabled ? false : (start(), true)) }, ...defaultKeymap, ...historyKeymap]), flowHighlight, flowLinter, lintGutter(), EditorView.updateListener.of((u) => u.docChanged && scheduleHash())],
  }),
});
let hashTimer: ReturnType<typeof setTimeout> | undefined;
const scheduleHash = () => {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(writeHash, 400);
};

function load(name: string, source?: string): void {
  specName = name;
  exampleSelect.value = examples.specs.some((s) => s.name === name) ? name : '';
  const text = source ?? examples.specs.find((s) => s.name === name)?.source ?? '';
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

exampleSelect.onchange = () => load(exampleSelect.value);
stepsInput.onchange = scheduleHash;
threadsSelect.onchange = scheduleHash;
backendSelect.onchange = scheduleHash;
$('link').onclick = () => {
  writeHash();
  void navigator.clipboard?.writeText(location.href).catch(() => undefined);
};

// ------------------------------------------------------------ CSV files dropped onto the page

document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  void (async () => {
    for (const f of Array.from(e.dataTransfer?.files ?? [])) dropped[f.name] = new Uint8Array(await f.arrayBuffer());
    const names = Object.keys(dropped);
    $('data').textContent = `Data files next to the spec: ${names.map((n) => `${n} (${dropped[n].length} bytes)`).join(', ')}. Name them in the spec, e.g. from "${names[0]}".`;
  })();
});

// ------------------------------------------------------------ drawing

const particlesCanvas = $<HTMLCanvasElement>('particles');
const curveCanvas = $<HTMLCanvasElement>('curve');

interface Live {
  info?: RunInfo;
  energy: [number, number][];
  box?: [number, number, number, number];
  positions?: Float64Array;
}
let live: Live = { energy: [] };
let frame = 0;
const redraw = () => {
  if (!frame) frame = requestAnimationFrame(draw);
};

function draw(): void {
  frame = 0;
  const ctx = particlesCanvas.getContext('2d')!;
  const W = particlesCanvas.width;
  const H = particlesCanvas.height;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const p = live.positions;
  const info = live.info?.particles;
  if (p && info && info.dim >= 1) {
    const d = info.dim;
    // the coordinates drawn: 0 and 1 unless chosen (0-based, as x[i] in the language)
    const cx0 = Math.min(Math.max(0, Number(coordX.value) || 0), d - 1);
    const cy0 = d >= 2 ? Math.min(Math.max(0, Number(coordY.value) || 0), d - 1) : -1;
    const X = (data: Float64Array, i: number) => data[i * d + cx0];
    const Yc = (data: Float64Array, i: number) => (cy0 >= 0 ? data[i * d + cy0] : 0);
    const clouds = [...(live.info?.samples ?? []).map((s) => ({ data: s.data, size: s.size, colour: '#c9c9c9' })), { data: p, size: info.size, colour: '#2f6fb0' }];
    let [x0, x1, y0, y1] = live.box ?? [Infinity, -Infinity, Infinity, -Infinity];
    for (const c of clouds)
      for (let i = 0; i < c.size; i++) {
        const x = X(c.data, i);
        const y = Yc(c.data, i);
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    // the view only grows, so that the particles move and not the frame
    live.box = [x0, x1, y0, y1];
    const span = Math.max(x1 - x0, y1 - y0, 1e-12) * 1.1;
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    for (const c of clouds) {
      ctx.fillStyle = c.colour;
      for (let i = 0; i < c.size; i++) {
        const px = ((X(c.data, i) - cx) / span + 0.5) * W;
        const py = (0.5 - (Yc(c.data, i) - cy) / span) * H;
        ctx.beginPath();
        ctx.arc(px, py, 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    ctx.fillStyle = '#666';
    ctx.font = '12px sans-serif';
    const targets = live.info?.samples.map((s) => s.name).join(', ');
    ctx.fillText(`${info.name}: ${info.size} points${d > 2 || cx0 !== 0 || cy0 !== 1 ? `, coordinates ${cx0}${cy0 >= 0 ? ` and ${cy0}` : ''} of ${d}` : d === 1 ? ' (on a line)' : ''}${targets ? ` · grey: ${targets}` : ''}`, 8, 16);
  }

  const g = curveCanvas.getContext('2d')!;
  const w = curveCanvas.width;
  const h = curveCanvas.height;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  const pts = live.energy.filter(([, e]) => Number.isFinite(e));
  if (pts.length) {
    const s1 = Math.max(live.info?.steps ?? 1, pts[pts.length - 1][0], 1);
    // a log scale when every value is positive, as flowc plot draws it
    const log = pts.every(([, e]) => e > 0);
    const f = (e: number) => (log ? Math.log10(e) : e);
    let e0 = Math.min(...pts.map((q) => f(q[1])));
    let e1 = Math.max(...pts.map((q) => f(q[1])));
    if (e1 - e0 < 1e-300) ((e0 -= 1), (e1 += 1));
    const L = 60;
    const X = (s: number) => L + (s / s1) * (w - L - 10);
    const Y = (e: number) => 10 + (1 - (f(e) - e0) / (e1 - e0)) * (h - 30);
    g.strokeStyle = '#b0401b';
    g.lineWidth = 2;
    g.beginPath();
    pts.forEach(([s, e], k) => (k ? g.lineTo(X(s), Y(e)) : g.moveTo(X(s), Y(e))));
    g.stroke();
    g.fillStyle = '#666';
    g.font = '11px sans-serif';
    const shown = (v: number) => (log ? 10 ** v : v).toPrecision(3);
    g.fillText(shown(e1), 2, 14);
    g.fillText(shown(e0), 2, h - 22);
    g.fillText(`${live.info?.energy ?? 'F'} against step (0 … ${s1})${log ? ', log scale' : ''}`, L, h - 6);
  }
}

// ------------------------------------------------------------ running

let worker: Worker | undefined;
let runId = 0;
let ctl: Int32Array | undefined;
let urls: string[] = [];

function setStatus(status: string, text = status): void {
  statusEl.dataset.status = status;
  statusEl.textContent = text;
}

function newWorker(): Worker {
  const url = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  w.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  w.onerror = (e) => {
    // a worker that failed outside a run's own error handling is not reused
    w.terminate();
    if (worker === w) worker = undefined;
    setStatus('failed', `failed: ${e.message}`);
    runButton.disabled = false;
    stopButton.disabled = true;
  };
  return w;
}

function onMessage(m: FromWorker): void {
  if (m.id !== runId) return;
  if (m.type === 'started') {
    live.info = m.info;
    $('energy-name').textContent = m.info.energy;
    $('steps').textContent = ` / ${m.info.steps}`;
  } else if (m.type === 'record') {
    live.energy.push([m.row[0], m.row[2]]);
    if (m.positions) live.positions = m.positions;
    $('energy').textContent = String(m.row[2]);
    redraw();
  } else if (m.type === 'progress') {
    $('step').textContent = String(m.step);
    $('rate').textContent = m.rate ? m.rate.toFixed(0) : '–';
  } else if (m.type === 'done') {
    $('step').textContent = String(m.steps);
    $('rate').textContent = m.rate.toFixed(0);
    setStatus(m.status, m.message ?? m.status);
    statusEl.dataset.threads = String(m.backend.threads);
    const b = m.backend;
    $('ran').textContent =
      b.name.startsWith('gpu')
        ? `${b.name} (gpu.js on the browser's WebGPU${b.renderer ? `: ${String(b.renderer)}` : ''}), ${b.precision}`
        : `${b.name}${typeof b.kernels === 'string' ? ` (${b.kernels})` : ''}, ${b.precision}, ${b.threads} thread${b.threads === 1 ? '' : 's'}`;
    statusEl.dataset.steps = String(m.steps);
    showDownloads(m.files, m.dir);
    if (m.warnings.length) showProblems(m.warnings);
    runButton.disabled = false;
    stopButton.disabled = true;
  } else if (m.type === 'failed') {
    setStatus('failed', 'failed');
    showProblems(m.diagnostics);
    runButton.disabled = false;
    stopButton.disabled = true;
  }
}

function showDownloads(files: Record<string, Uint8Array>, dir: string): void {
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
  const box = $('downloads');
  box.replaceChildren(document.createTextNode(`${dir}/ `));
  for (const [name, bytes] of Object.entries(files)) {
    const type = name.endsWith('.json') ? 'application/json' : name.endsWith('.csv') ? 'text/csv' : 'application/octet-stream';
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
    urls.push(url);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.textContent = name;
    box.append(a);
  }
}

function start(): void {
  runId++;
  live = { energy: [] };
  redraw();
  $('downloads').replaceChildren();
  $('step').textContent = '0';
  $('rate').textContent = '–';
  $('energy').textContent = '–';
  delete statusEl.dataset.steps;
  delete statusEl.dataset.threads;
  $('ran').textContent = '';
  delete statusEl.dataset.stepAtStop;
  showProblems(check(view.state.doc.toString()));
  worker ??= newWorker();
  ctl = typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4 * CTL.LENGTH)) : undefined;
  const steps = stepsInput.value.trim() === '' ? undefined : Number(stepsInput.value);
  const threads = threadsSelect.value === 'auto' ? undefined : Number(threadsSelect.value);
  const data: Record<string, Uint8Array> = { ...DATA };
  for (const [name, bytes] of Object.entries(dropped)) data[`specs/${name}`] = bytes;
  setStatus('running', 'running');
  runButton.disabled = true;
  stopButton.disabled = false;
  worker.postMessage({ type: 'run', id: runId, file: specFile(), source: view.state.doc.toString(), data, steps, backend: backendSelect.value as BackendChoice, threads, ctl });
}

function stop(): void {
  if (ctl) {
    Atomics.store(ctl, CTL.STOP, 1);
    // the step running when Stop was pressed: the run ends after it
    statusEl.dataset.stepAtStop = String(Atomics.load(ctl, CTL.STEP) + 1);
  }
  worker?.postMessage({ type: 'stop', id: runId });
  stopButton.disabled = true;
  setStatus('stopping', 'stopping');
}

coordX.oninput = coordY.oninput = () => {
  live.box = undefined;
  redraw();
};
runButton.onclick = start;
stopButton.onclick = stop;

// ------------------------------------------------------------ start-up

const fromHash = readHash();
if (fromHash.steps) stepsInput.value = fromHash.steps;
if (fromHash.threads && [...threadsSelect.options].some((o) => o.value === fromHash.threads)) threadsSelect.value = fromHash.threads;
if ([...backendSelect.options].some((o) => o.value === fromHash.backend && !o.disabled)) backendSelect.value = fromHash.backend!;
load(fromHash.name ?? specName, fromHash.source);
draw();
