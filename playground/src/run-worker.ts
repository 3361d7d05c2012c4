// The playground's Web Worker: compiles and runs a flow exactly as
// `flowc run` does (src/cli/main.ts runSpec): the spec and its data files in
// an in-memory file system (platform/fs.ts), the run folder claimed by
// RunDir, its files written by RunSession as they are made, run.json last.
// The page gets each record (trace row, particles) as it is made, the step
// and steps/s, and at the end the run folder's files.

import './platform/flowc-package.js';
import { runCompiled } from '../../src/api.js';
import { error, FlowError, type Diagnostic } from '../../src/compiler/diagnostics.js';
import { compileOrThrow, prepareInputs } from '../../src/front.js';
import { RunDir } from '../../src/runtime/run-dir.js';
import { runJsonHead } from '../../src/run-folder.js';
import { RunSession } from '../../src/run-session.js';
import fs, { contents } from './platform/fs.js';
import path from './platform/path.js';
import { CTL, type FromWorker, type RunRequest, type ToWorker } from './protocol.js';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let stopAsked = new Set<number>();

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'stop') stopAsked.add(m.id);
  else void run(m);
};

function writeData(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

async function run(req: RunRequest): Promise<void> {
  const { id, ctl } = req;
  stopAsked = new Set();
  try {
    // a fresh file system for each run: the spec, its data, an empty run folder
    for (const e of fs.readdirSync('/') as string[]) fs.rmSync(`/${e}`, { recursive: true, force: true });
    for (const [file, bytes] of Object.entries(req.data)) writeData(file, bytes);
    writeData(req.file, new TextEncoder().encode(req.source));

    const { compiled, source } = compileOrThrow(req.file, { steps: req.steps });
    // the gpu backend's message for a missing adapter speaks of Dawn's drivers: say it as a browser's
    if (req.backend === 'gpu:webgpu') {
      const gpu = (self.navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      if (!gpu || !(await gpu.requestAdapter()))
        throw new FlowError(
          error(req.file, undefined, `gpu:webgpu: this browser ${gpu ? 'offers no WebGPU adapter here (a GPU blocked or absent; chrome://gpu says why)' : 'has no WebGPU in its workers'}; run on cpu or cpu:js`),
        );
    }
    const set = {};
    const inputs = prepareInputs(compiled);
    const dir = path.join('runs', compiled.ir.flow.name);
    const runDir = RunDir.open(dir, 'new', false);
    const session = new RunSession(runDir, { file: req.file, source, compiled, measures: inputs.measures, set, checkpointEvery: 0, backend: req.backend, precision: 'float64' }, runJsonHead(req.file, source, compiled, inputs.measures, set));
    const particles = compiled.ir.particles ? inputs.measures.find((m) => m.name === compiled.ir.particles) : undefined;
    // the first positions(...) record item of the particles: what the canvas shows
    const shown = compiled.ir.record.items.filter((it) => it.kind === 'positions' || it.kind === 'weights' || it.kind === 'state').findIndex((it) => it.kind === 'positions' && it.measure === particles?.name);
    let finished = false;
    try {
      session.begin();
      let started = false;
      let t0 = 0;
      let first = 0;
      let lastPost = 0;
      const run = await runCompiled(compiled, {
        steps: req.steps,
        // worker threads share memory: only in a cross-origin isolated page
        threads: ctl ? req.threads : 1,
        kernels: req.backend === 'cpu:js' ? 'js' : 'wasm',
        gpu: req.backend === 'gpu:webgpu' ? 'webgpu' : undefined,
        precision: 'float64',
        inputs,
        onStep: (step, steps) => {
          if (ctl) Atomics.store(ctl, CTL.STEP, step);
          const now = performance.now();
          if (!t0) ((t0 = now), (first = step));
          if (now - lastPost > 50 || step === steps) {
            lastPost = now;
            post({ type: 'progress', id, step, steps, rate: step > first ? ((step - first) * 1000) / (now - t0) : 0 });
          }
        },
        loop: {
          onRecord: (row, values, layout) => {
            if (!started) {
              started = true;
              post({
                type: 'started',
                id,
                info: {
                  flow: compiled.ir.flow.name,
                  energy: compiled.ir.energy.name,
                  columns: layout.columns,
                  steps: compiled.ir.scheme.steps,
                  particles: particles && shown >= 0 ? { name: particles.name, size: particles.size, dim: particles.dim } : undefined,
                  samples: inputs.measures
                    .filter((m) => particles && m.dim === particles.dim && compiled.ir.measures.find((x) => x.name === m.name)?.role === 'sample' && m.size * m.dim <= 1e6)
                    .map((m) => ({ name: m.name, size: m.size, dim: m.dim, data: m.data.slice() })),
                  backend: req.backend,
                },
              });
            }
            session.onRecord(row, values, layout);
            const positions = shown >= 0 ? values[shown].slice() : undefined;
            post({ type: 'record', id, row, positions }, positions ? [positions.buffer] : []);
          },
          checkpointEvery: 0,
          stop: () => (ctl ? Atomics.load(ctl, CTL.STOP) !== 0 : stopAsked.has(id)),
        },
      });
      const files = session.finish(run, 0);
      finished = true;
      const out: Record<string, Uint8Array> = {};
      for (const f of files) {
        const bytes = contents(path.join(dir, f));
        if (bytes) out[f] = bytes;
      }
      const r = run.result;
      const message =
        r.status === 'diverged' && r.divergence
          ? `diverged at step ${r.divergence.step}: ${r.divergence.quantity} is ${r.divergence.value}${r.divergence.note ? ` (${r.divergence.note})` : ''}`
          : r.status === 'interrupted'
            ? `stopped after step ${r.steps} of ${compiled.ir.scheme.steps}`
            : undefined;
      post(
        {
          type: 'done',
          id,
          status: r.status,
          steps: r.steps,
          rate: r.steps && run.timings.steps > 0 ? (r.steps * 1000) / run.timings.steps : 0,
          message,
          backend: run.backend,
          files: out,
          dir,
          warnings: run.warnings.filter((d) => d.severity === 'warning'),
        },
        Object.values(out).map((b) => b.buffer),
      );
    } finally {
      if (!finished) session.abandon();
    }
  } catch (e) {
    const diagnostics: Diagnostic[] =
      e instanceof FlowError ? e.diagnostics : [{ severity: 'error', file: req.file, message: `internal error: ${e instanceof Error ? e.message : String(e)}` }];
    post({ type: 'failed', id, diagnostics });
  }
}
