// What the two threaded cpu backends (backend-cpu-parallel.ts: generated
// JavaScript; backend-wasm.ts: WebAssembly) share about sharing a stage out:
// how finely it is cut, and how the calling thread waits for the workers.

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
