// node:worker_threads in the browser build. The playground runs a flow on
// one thread (its Web Worker), so the cpu backends never start a worker
// thread; asking for one is an error, not a hang.

export const workerData = undefined;
export const isMainThread = true;

export class Worker {
  constructor() {
    throw new Error('playground: the cpu backend runs on one thread here (no worker threads)');
  }
}

export default { Worker, workerData, isMainThread };
