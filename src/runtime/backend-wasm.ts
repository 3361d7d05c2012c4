// The default cpu backend: the plan's stages as one WebAssembly module with
// 128-bit SIMD (codegen-wasm.ts; f64x2 in float64, f32x4 in float32),
// assembled by wabt (wasm-assemble.ts, which keeps the binaries), on one
// thread or on every core.
//
// Memory: one shared WebAssembly.Memory per run, sized once (it never
// grows), laid out as codegen-wasm.ts's header says: parameters, every
// measure slot as structure of arrays (component c of all points contiguous,
// padded to PAD_POINTS), stored buffers, one output array per
// program. The time loop's arrays (positions, query points, weights, dab's
// rows, the models' points of a flow of states: state.extra,
// parameters and states) stay plain float64 arrays on the host: each program run
// copies the ones that move into the module's memory (O(N·d), converting to
// float32 when asked) and copies its outputs back; fixed measures are copied
// once. A step allocates nothing.
//
// Threads: as backend-cpu-parallel.ts, the domain of a stage is split into
// chunks that the threads (the main one too) claim from a shared counter;
// each worker (wasm-worker.ts) instantiates the same module on the same
// memory. A point's sums are computed by the same code in the same order on
// whichever thread: the results do not depend on the thread count.

import { Worker } from 'node:worker_threads';
import type { Compiled } from '../compiler/compile.js';
import { WEIGHTS_MEASURE } from '../compiler/compile.js';
import { F32, F64, generateWasmModule, PAD_POINTS, wasmHeader, wasmStages, type WasmReal } from '../compiler/codegen-wasm.js';
import { hasInlineLoops } from '../compiler/codegen-emit.js';
import { error, FlowError } from '../compiler/diagnostics.js';
import { CG_MEASURE } from '../compiler/lower.js';
import { isResourceLimit } from '../compiler/limits.js';
import { QUERY, type Stage } from '../compiler/schedule.js';
import { stageArrays, type FlowState } from './arrays.js';
import type { Backend } from './backend-cpu.js';
import type { MeasureData } from './inputs.js';
import { WCTL, wasmWorkerMain, type WasmWorkerInit } from './wasm-worker.js';
import { CHUNKS_PER_THREAD, joinWorkers, startWorker } from './thread-join.js';
import { assemble } from './wasm-assemble.js';

const WORKER_SOURCE = `(${String(wasmWorkerMain)})(require('node:worker_threads').workerData);`;
const PAGE = 65536;

type StageExport = (i0: number, i1: number, out: number, scratch: number) => void;
type RealArray = Float64Array | Float32Array;

interface Job {
  id: number;
  fn: StageExport;
  /** domain points, or -1 for a closed stage */
  size: number;
  /** byte address of the program's outputs */
  out: number;
}

interface Program {
  jobs: Job[];
  /** the outputs in the module's memory */
  out: RealArray;
}

export interface WasmOptions {
  threads: number;
  precision: 'float64' | 'float32';
  /** false: every reduction one loop, never split (codegen-wasm.ts splitPlan; for tests) */
  split?: boolean;
  /** true: temporaries share locals in every stage, false: never (codegen-wasm.ts REUSE_LOCALS_ABOVE; for tests) */
  reuseLocals?: boolean;
}

export class WasmCpuBackend implements Backend {
  readonly name = 'cpu';
  readonly precision: 'float64' | 'float32';
  readonly params: Float64Array;
  readonly state: FlowState;
  readonly threads: number;
  private readonly real: WasmReal;
  private readonly programs = new Map<string, Program>();
  private readonly P: RealArray;
  /** slots the host rewrites between programs: host array (row-major) → module components */
  private readonly moving: { src: Float64Array; dim: number; size: number; comps: RealArray[] }[] = [];
  private readonly ctl: Int32Array;
  /** the main thread's scratch memory */
  private readonly scratch: number;
  /** the module's memory (shared with the workers) */
  readonly memory: WebAssembly.Memory;
  private readonly workers: Worker[] = [];
  private failure: FlowError | undefined;
  private disposed = false;

  /** Generate, assemble and start: the module, its memory, the workers. */
  static async open(compiled: Compiled, measures: MeasureData[], positions: Float64Array, options: WasmOptions): Promise<WasmCpuBackend> {
    const real = options.precision === 'float32' ? F32 : F64;
    const { stages } = wasmStages(compiled.plan);
    const scratch = { bytes: 0 };
    let wat: string;
    try {
      wat = generateWasmModule(stages, compiled.layout, real, { scratch, split: options.split, reuseLocals: options.reuseLocals });
    } catch (e) {
      // a function over WebAssembly's 50,000 locals even when temporaries share them
      if (isResourceLimit(e))
        throw new FlowError(error(compiled.ir.file, undefined, `this spec is too large for the WebAssembly code generator (${e.message}): run it with --backend cpu:js (generated JavaScript, float64)`));
      throw e;
    }
    const module = await assemble(wat);
    const nested = stages.filter((st) => hasInlineLoops([...st.reductions.flatMap((r) => r.buffers.map((b) => compiled.plan.buffers[b].expr.body)), ...st.outputs])).length;
    return new WasmCpuBackend(compiled, measures, positions, options, real, module, nested, scratch.bytes);
  }

  private constructor(
    compiled: Compiled,
    measures: MeasureData[],
    positions: Float64Array,
    options: WasmOptions,
    real: WasmReal,
    module: WebAssembly.Module,
    /** stages whose bodies keep a nested expectation (two outer points): its loop runs with every lane on one point, unvectorised */
    private readonly nested: number,
    /** scratch memory per thread (split reductions) */
    scratchBytes: number,
  ) {
    this.precision = options.precision;
    this.threads = options.threads;
    this.real = real;
    const { layout, plan } = compiled;
    const host = stageArrays(compiled, measures, positions, (n) => new Float64Array(n));
    this.params = host.params;
    this.state = host.state;
    const hdr = wasmHeader(layout);
    const bytes = real.bytes;
    const pad = (n: number) => Math.ceil(n / PAD_POINTS) * PAD_POINTS;
    const align = (a: number) => Math.ceil(a / 16) * 16;

    // the memory map: [header | P | slot components | buffers | outputs | one scratch block per thread]
    let top = align(4 * hdr.words);
    const take = (count: number) => {
      const at = top;
      top = align(top + pad(Math.max(count, 1)) * bytes);
      return at;
    };
    const words: [number, number][] = [];
    const pAt = take(this.params.length);
    words.push([hdr.P, pAt]);
    const slots = layout.slot.size;
    const compAt: number[][] = [];
    for (let k = 0; k < slots; k++) {
      const n = host.S[k];
      words.push([hdr.count(k), n]);
      compAt.push(Array.from({ length: hdr.dims[k] }, (_, c) => {
        const at = take(n);
        words.push([hdr.comp(k, c), at]);
        return at;
      }));
    }
    plan.buffers.forEach((b, i) => words.push([hdr.buffer(i), take(host.sizeOf(b.domain))]));
    const outAt = new Map<string, { at: number; length: number }>();
    outAt.set('setup', { at: take(0), length: 0 });
    for (const [name, p] of Object.entries(plan.programs)) {
      const length = host.sizeOf(p.domain) * p.roots.length;
      outAt.set(name, { at: take(length), length });
    }
    const scratchAt = Array.from({ length: this.threads }, () => {
      const at = top;
      top = align(top + scratchBytes);
      return at;
    });
    this.scratch = scratchAt[0];
    const pages = Math.ceil(top / PAGE) + 1;
    if (pages > 65536) throw new FlowError(error(compiled.ir.file, undefined, `the cpu backend's memory would need ${(top / 2 ** 30).toFixed(1)} GiB, more than WebAssembly's 4 GiB`));
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.memory = memory;
    const buf = memory.buffer;
    const view = (at: number, n: number): RealArray => (bytes === 8 ? new Float64Array(buf, at, n) : new Float32Array(buf, at, n));
    const header = new Int32Array(buf, 0, hdr.words);
    for (const [w, value] of words) header[w] = value;
    this.P = view(pAt, this.params.length);

    // fixed measures once; the slots the host rewrites on every program run
    const movingNames = [compiled.ir.particles, QUERY, WEIGHTS_MEASURE, CG_MEASURE, ...host.state.extra.keys()];
    const movingSlots = new Set(movingNames.map((m) => (m ? layout.slot.get(m) : undefined)).filter((k): k is number => k !== undefined));
    for (let k = 0; k < slots; k++) {
      const n = host.S[k];
      const dim = hdr.dims[k];
      const comps = compAt[k].map((at) => view(at, pad(n)));
      const entry = { src: host.D[k], dim, size: n, comps };
      if (movingSlots.has(k)) this.moving.push(entry);
      else transpose(entry);
    }

    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const fnOf = (id: number) => instance.exports[`s${id}`] as StageExport;
    let id = 0;
    const bind = (which: string, stages: Stage[]): Program => {
      const o = outAt.get(which)!;
      const jobs = stages.map((st): Job => ({ id, fn: fnOf(id++), size: st.domain === null ? -1 : host.sizeOf(st.domain), out: o.at }));
      return { jobs, out: view(o.at, o.length) };
    };
    this.programs.set('setup', bind('setup', plan.setup));
    for (const [name, p] of Object.entries(plan.programs)) this.programs.set(name, bind(name, p.stages));

    this.ctl = new Int32Array(new SharedArrayBuffer(4 * WCTL.LENGTH));
    const file = compiled.ir.file;
    for (let index = 1; index < this.threads; index++) {
      const workerData: WasmWorkerInit = { module, memory, ctl: this.ctl, slots: WCTL, stages: id, scratch: scratchAt[index] };
      this.workers.push(startWorker(WORKER_SOURCE, workerData, index, (message) => this.fail(file, message), () => this.disposed));
    }
  }

  private fail(file: string, message: string): void {
    this.failure ??= new FlowError(error(file, undefined, message));
  }

  async run(which: string, out: Float64Array): Promise<void> {
    const program = this.programs.get(which);
    if (!program) throw new Error(`internal: no program ${which}`);
    this.P.set(this.params);
    for (const m of this.moving) transpose(m);
    for (const job of program.jobs) {
      if (this.failure) throw this.failure;
      if (job.size < 0) job.fn(0, 1, job.out, this.scratch);
      else if (this.workers.length === 0) {
        // in chunks on one thread too: V8 first runs a function as baseline code (Liftoff) and
        // uses its optimised code from the next call on, so one call over the whole domain
        // would run the first step unoptimised
        const chunk = Math.max(1, Math.ceil(job.size / CHUNKS_PER_THREAD));
        for (let i0 = 0; i0 < job.size; i0 += chunk) job.fn(i0, Math.min(i0 + chunk, job.size), job.out, this.scratch);
      } else await this.split(job);
    }
    if (program.out.length) out.set(program.out);
  }

  private async split(job: Job): Promise<void> {
    const { ctl } = this;
    const size = job.size;
    const chunk = Math.max(1, Math.ceil(size / (CHUNKS_PER_THREAD * this.threads)));
    ctl[WCTL.JOB] = job.id;
    ctl[WCTL.SIZE] = size;
    ctl[WCTL.CHUNK] = chunk;
    ctl[WCTL.OUT] = job.out;
    Atomics.store(ctl, WCTL.NEXT, 0);
    Atomics.store(ctl, WCTL.DONE, 0);
    Atomics.add(ctl, WCTL.GEN, 1);
    Atomics.notify(ctl, WCTL.GEN);
    for (let i0; (i0 = Atomics.add(ctl, WCTL.NEXT, chunk)) < size; ) job.fn(i0, Math.min(i0 + chunk, size), job.out, this.scratch);
    await joinWorkers(ctl, WCTL, this.workers.length, () => this.failure);
  }

  setup(): Promise<void> {
    return this.run('setup', new Float64Array(0));
  }

  velocity(out: Float64Array): Promise<void> {
    return this.run('velocity', out);
  }

  observe(out: Float64Array): Promise<void> {
    return this.run('observe', out);
  }

  describe(): Record<string, unknown> {
    return { threads: this.threads, kernels: `wasm simd128 ${this.real.v}`, ...(this.nested ? { scalar_nested_loops: `${this.nested} stage${this.nested === 1 ? ' keeps' : 's keep'} a nested expectation, looped unvectorised` } : {}) };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctl, WCTL.JOB, WCTL.STOP);
    Atomics.add(this.ctl, WCTL.GEN, 1);
    Atomics.notify(this.ctl, WCTL.GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Copy row-major points into the module's per-component arrays. */
function transpose(m: { src: Float64Array; dim: number; size: number; comps: RealArray[] }): void {
  const { src, dim, size, comps } = m;
  if (dim === 1) {
    comps[0].set(src.subarray(0, size));
    return;
  }
  for (let c = 0; c < dim; c++) {
    const dst = comps[c];
    for (let i = 0, o = c; i < size; i++, o += dim) dst[i] = src[o];
  }
}
