// The body of a worker thread of the WebAssembly cpu backend
// (backend-wasm.ts): instantiate the plan's module on the shared memory,
// then loop: wait for a job on the shared control array, run the stage over
// chunks of domain points claimed from a shared counter, count itself done.
// Started from its source text, like cpu-worker.ts: it must not refer to
// anything outside its own body but its argument and JavaScript's globals.

/** Slots of the shared control array (Int32Array). */
export const WCTL = {
  GEN: 0,
  /** the stage to run (export `s<JOB>`), or STOP */
  JOB: 1,
  DONE: 2,
  FAIL: 3,
  SIZE: 4,
  CHUNK: 5,
  NEXT: 6,
  /** byte address of the stage's outputs */
  OUT: 7,
  LENGTH: 8,
  STOP: -1,
} as const;

export interface WasmWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctl: Int32Array;
  slots: typeof WCTL;
  /** number of stage exports */
  stages: number;
  /** this thread's scratch memory (byte address) */
  scratch: number;
}

export function wasmWorkerMain(init: WasmWorkerInit): void {
  const { module, memory, ctl, slots, stages, scratch } = init;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const fns: ((i0: number, i1: number, out: number, scratch: number) => void)[] = [];
  for (let k = 0; k < stages; k++) fns.push(instance.exports[`s${k}`] as (i0: number, i1: number, out: number, scratch: number) => void);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, slots.GEN, seen);
    seen = Atomics.load(ctl, slots.GEN);
    const job = Atomics.load(ctl, slots.JOB);
    if (job === slots.STOP) return;
    const size = ctl[slots.SIZE];
    const chunk = ctl[slots.CHUNK];
    const out = ctl[slots.OUT];
    try {
      for (let i0; (i0 = Atomics.add(ctl, slots.NEXT, chunk)) < size; ) fns[job](i0, Math.min(i0 + chunk, size), out, scratch);
    } catch (e) {
      Atomics.store(ctl, slots.FAIL, 1);
      throw e;
    } finally {
      Atomics.add(ctl, slots.DONE, 1);
      Atomics.notify(ctl, slots.DONE);
    }
  }
}
