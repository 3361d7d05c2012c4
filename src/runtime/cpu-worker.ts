// The body of a cpu worker thread (backend-cpu-parallel.ts). The thread gets
// every stage source of the plan once, compiles each as the main thread does
// (`new Function(...STAGE_PARAMS, source)`, as compileStage), then loops: wait
// for the main thread to post a job on the shared control array, run the
// job's stage over chunks of domain points claimed from a shared counter
// until none is left, count itself done. Nothing is posted per step; all
// arrays are shared memory.
//
// `workerMain` is started from its source text (`String(workerMain)`, see
// ParallelCpuBackend), so that the same code runs from dist/ and from the
// TypeScript sources (vitest): it must not refer to anything outside its own
// body but its argument and JavaScript's globals.

import type { StageFn } from './backend-cpu.js';

/** Slots of the shared control array (Int32Array). */
export const CTL = {
  /** incremented by the main thread to post a job */
  GEN: 0,
  /** the stage to run (its index in WorkerInit.sources), or STOP */
  JOB: 1,
  /** workers that finished the current job */
  DONE: 2,
  /** set to 1 by a worker whose stage threw (the thread then ends with the error) */
  FAIL: 3,
  /** the job's domain points */
  SIZE: 4,
  /** points per chunk */
  CHUNK: 5,
  /** the first point not yet claimed: a thread claims [NEXT, NEXT + CHUNK) with Atomics.add */
  NEXT: 6,
  /** slots in all */
  LENGTH: 7,
} as const;

/** JOB value that ends the worker loop. */
export const STOP = -1;

export interface WorkerInit {
  /** the stage function's parameter names (STAGE_PARAMS) */
  params: readonly string[];
  /** the source of every stage the workers may run */
  sources: string[];
  /** OUT array of each stage (shared) */
  outs: Float64Array[];
  P: Float64Array;
  D: Float64Array[];
  S: Int32Array;
  B: Float64Array[];
  ctl: Int32Array;
  slots: typeof CTL;
  stop: number;
}

export function workerMain(init: WorkerInit): void {
  const { params, sources, outs, P, D, S, B, ctl, slots, stop } = init;
  const fns = sources.map((source) => new Function(...params, source) as StageFn);
  let seen = 0;
  for (;;) {
    // returns at once when a job was posted before this thread got here
    Atomics.wait(ctl, slots.GEN, seen);
    seen = Atomics.load(ctl, slots.GEN);
    const job = Atomics.load(ctl, slots.JOB);
    if (job === stop) return;
    const size = ctl[slots.SIZE];
    const chunk = ctl[slots.CHUNK];
    try {
      for (let i0; (i0 = Atomics.add(ctl, slots.NEXT, chunk)) < size; ) fns[job](P, D, S, B, outs[job], i0, Math.min(i0 + chunk, size), null);
    } catch (e) {
      Atomics.store(ctl, slots.FAIL, 1);
      throw e;
    } finally {
      Atomics.add(ctl, slots.DONE, 1);
      Atomics.notify(ctl, slots.DONE);
    }
  }
}
