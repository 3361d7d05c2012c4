// What the two threaded cpu backends (backend-cpu-parallel.ts: generated
// JavaScript; backend-wasm.ts: WebAssembly) share about sharing a stage out:
// how finely it is cut, how a worker is started, and how the calling thread waits for the workers.

import { Worker } from 'node:worker_threads';

/** Chunks per thread in a stage: small enough to balance, large enough that claiming one costs nothing. */
export const CHUNKS_PER_THREAD = 16;

/** While waiting on the workers, yield to the event loop this often (ms) so a dead worker is noticed. */
const POLL_MS = 50;

/**
 * Wait until `need` workers counted themselves done in ctl[done]. The wait
 * blocks (no event-loop turn per stage) but gives the event loop a turn every
 * POLL_MS, so that a worker that died (its 'error' or 'exit' event, which
 * sets what `failure` returns) ends the wait.
 */
export async function joinWorkers(ctl: Int32Array, slots: { DONE: number; FAIL: number }, need: number, failure: () => unknown): Promise<void> {
  for (;;) {
    const failed = failure();
    if (failed) throw failed;
    const done = Atomics.load(ctl, slots.DONE);
    // all done and none failed; when one failed, its 'error' event is on its way
    if (done === need && !Atomics.load(ctl, slots.FAIL)) return;
    if (done === need || Atomics.wait(ctl, slots.DONE, done, POLL_MS) === 'timed-out') await new Promise((r) => setImmediate(r));
  }
}

/**
 * Start worker thread `index` of a pool from `source` (evaluated code): a
 * failure or an exit before `disposed()` becomes the pool's failure (a
 * message for the user), and a forgotten dispose() does not keep the process alive.
 */
export function startWorker(source: string, workerData: unknown, index: number, fail: (message: string) => void, disposed: () => boolean): Worker {
  const worker = new Worker(source, { eval: true, workerData });
  worker.on('error', (e) => fail(`cpu worker thread ${index} failed: ${e instanceof Error ? e.message : String(e)}`));
  worker.on('exit', (code) => {
    if (!disposed()) fail(`cpu worker thread ${index} exited unexpectedly (exit code ${code})`);
  });
  worker.unref();
  return worker;
}
