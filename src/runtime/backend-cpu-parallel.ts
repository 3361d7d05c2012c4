// The cpu backend on several threads: the same generated float64 stage
// functions as CpuBackend, each stage over a domain split into chunks of
// contiguous points that the threads (the main thread too) claim in turn
// from a shared counter, so that a thread slowed by other work on its core
// takes fewer chunks (a static split would wait for it).
//
// Workers (cpu-worker.ts) start once, with every stage source; all arrays
// (parameters, measures, the particle positions simulate() updates, stored
// buffers, outputs) live in SharedArrayBuffers. A stage is posted through a
// shared Int32Array (Atomics.notify) and joined with Atomics.wait: stages run
// in plan order with a barrier between them, and a step neither allocates
// nor posts a message. Closed stages (no domain) run on the main thread.
//
// Bit-identical to CpuBackend: a domain point's sums are computed by the same
// function, over the same inner loop in the same order, whichever thread
// computes it; threads only choose which points (docs/decisions.md).

import { stageArrays, type FlowState } from './arrays.js';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Compiled } from '../compiler/compile.js';
import { error, FlowError } from '../compiler/diagnostics.js';
import { STAGE_PARAMS } from '../compiler/codegen-js.js';
import type { ProgramPlan, Stage } from '../compiler/schedule.js';
import { compileStage, type Backend, type StageFn } from './backend-cpu.js';
import { CTL, STOP, workerMain, type WorkerInit } from './cpu-worker.js';
import type { MeasureData } from './inputs.js';
import { CHUNKS_PER_THREAD, joinWorkers, startWorker } from './thread-join.js';

/**
 * From this many particles on, runs use every core by default: below it the
 * cost of starting the workers and of a barrier per stage is not repaid
 * (bench/cpu-threads.js; docs/decisions.md).
 */
export const PARALLEL_MIN_PARTICLES = 512;

/** The default thread count for a run with this many particles. */
export function defaultThreads(particles: number): number {
  return particles >= PARALLEL_MIN_PARTICLES ? os.availableParallelism() : 1;
}

/** A copy of `a` in shared memory (the positions a ParallelCpuBackend updates). */
export function sharedCopy(a: Float64Array): Float64Array {
  const s = new Float64Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}

/** The worker's program: cpu-worker.ts's workerMain applied to its workerData. */
const WORKER_SOURCE = `(${String(workerMain)})(require('node:worker_threads').workerData);`;



interface Job {
  /** index of the stage in WorkerInit.sources */
  id: number;
  fn: StageFn;
  /** domain points, or -1 for a closed stage (main thread only) */
  size: number;
  /** the OUT array of the stage when it has a domain (shared) */
  out: Float64Array;
}

export class ParallelCpuBackend implements Backend {
  readonly name = 'cpu:js';
  readonly precision = 'float64' as const;
  readonly params: Float64Array;
  readonly state: FlowState;
  private readonly D: Float64Array[];
  private readonly S: Int32Array;
  private readonly B: Float64Array[];
  private readonly jobs = new Map<string, Job[]>();
  /** per program with a domain: its shared output array, copied to the caller's */
  private readonly outputs = new Map<string, Float64Array | null>();
  private readonly ctl: Int32Array;
  private readonly workers: Worker[];
  private failure: FlowError | undefined;
  private disposed = false;

  /**
   * `positions` must be backed by a SharedArrayBuffer (sharedCopy): the
   * workers read the very array simulate() updates in place.
   */
  constructor(
    compiled: Compiled,
    measures: MeasureData[],
    positions: Float64Array,
    readonly threads: number,
  ) {
    if (!(positions.buffer instanceof SharedArrayBuffer)) throw new Error('internal: ParallelCpuBackend needs positions in shared memory (sharedCopy)');
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`internal: thread count ${threads}`);
    const { plan, kernels } = compiled;
    const shared = (length: number) => new Float64Array(new SharedArrayBuffer(8 * length));
    const arrays = stageArrays(compiled, measures, positions, shared, sharedCopy);
    ({ params: this.params, D: this.D, S: this.S, B: this.B, state: this.state } = arrays);
    const sizeOf = arrays.sizeOf;

    const outputOf = (p: ProgramPlan) => (p.domain === null ? null : shared(sizeOf(p.domain) * p.roots.length));
    const sources: string[] = [];
    const outs: Float64Array[] = [];
    const bind = (which: string, stages: Stage[], code: string[]) =>
      stages.map((stage, i): Job => {
        const job = { id: sources.length, fn: compileStage(code[i]), size: stage.domain === null ? -1 : sizeOf(stage.domain), out: this.outputs.get(which) ?? shared(0) };
        sources.push(code[i]);
        outs.push(job.out);
        return job;
      });
    this.outputs.set('setup', null);
    this.jobs.set('setup', bind('setup', plan.setup, kernels.setup));
    for (const [name, p] of Object.entries(plan.programs)) {
      this.outputs.set(name, outputOf(p));
      this.jobs.set(name, bind(name, p.stages, kernels.programs[name]));
    }

    this.ctl = new Int32Array(new SharedArrayBuffer(4 * CTL.LENGTH));
    const file = compiled.ir.file;
    this.workers = [];
    for (let index = 1; index < threads; index++) {
      const workerData: WorkerInit = { params: STAGE_PARAMS, sources, outs, P: this.params, D: this.D, S: this.S, B: this.B, ctl: this.ctl, slots: CTL, stop: STOP };
      this.workers.push(startWorker(WORKER_SOURCE, workerData, index, (message) => this.fail(file, message), () => this.disposed));
    }
  }

  /** Keep the first failure: every later call reports it. */
  private fail(file: string, message: string): void {
    this.failure ??= new FlowError(error(file, undefined, message));
  }

  async run(which: string, out: Float64Array): Promise<void> {
    const jobs = this.jobs.get(which);
    if (!jobs) throw new Error(`internal: no program ${which}`);
    for (const job of jobs) {
      if (this.failure) throw this.failure;
      if (job.size < 0) job.fn(this.params, this.D, this.S, this.B, out, 0, 1, null);
      else await this.split(job);
    }
    const shared = this.outputs.get(which);
    if (shared) out.set(shared);
  }

  /** Run a stage with a domain on every thread, chunk by chunk, and wait for all. */
  private async split(job: Job): Promise<void> {
    const { ctl } = this;
    const size = job.size;
    const chunk = Math.max(1, Math.ceil(size / (CHUNKS_PER_THREAD * this.threads)));
    ctl[CTL.JOB] = job.id;
    ctl[CTL.SIZE] = size;
    ctl[CTL.CHUNK] = chunk;
    Atomics.store(ctl, CTL.NEXT, 0);
    Atomics.store(ctl, CTL.DONE, 0);
    // the atomic increment publishes the job to the workers
    Atomics.add(ctl, CTL.GEN, 1);
    Atomics.notify(ctl, CTL.GEN);
    for (let i0; (i0 = Atomics.add(ctl, CTL.NEXT, chunk)) < size; ) job.fn(this.params, this.D, this.S, this.B, job.out, i0, Math.min(i0 + chunk, size), null);
    await joinWorkers(this.ctl, CTL, this.workers.length, () => this.failure);
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
    return { threads: this.threads, kernels: 'js' };
  }

  /** Stop the workers (they leave their loop on STOP; terminate() ends any that cannot). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctl, CTL.JOB, STOP);
    Atomics.add(this.ctl, CTL.GEN, 1);
    Atomics.notify(this.ctl, CTL.GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
