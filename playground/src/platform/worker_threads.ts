// node:worker_threads in the browser build: the cpu backends' worker threads
// (backend-wasm.ts, backend-cpu-parallel.ts) as nested Web Workers. Those
// backends start a thread from source text that reads
// `require('node:worker_threads').workerData`; here the text runs in a
// worker made from a blob, once the data has come as its first message (the
// module, the shared memory and the control array: a page that is
// cross-origin isolated can send them). The threads then talk only through
// shared memory and Atomics, as in Node.

const WebWorker = globalThis.Worker;

export const workerData = undefined;
export const isMainThread = true;
export const threadId = 0;

type Handler = (arg: unknown) => void;

export class Worker {
  private readonly worker: globalThis.Worker;
  private readonly handlers: Record<string, Handler[]> = {};
  private exited = false;

  constructor(source: string, options: { eval?: boolean; workerData?: unknown }) {
    if (!options?.eval) throw new Error('playground: worker threads start from source text only');
    if (typeof WebWorker !== 'function') throw new Error('playground: this browser has no Web Workers here, so the cpu backend runs on one thread');
    const code = `self.onmessage = (e) => {\n  self.onmessage = null;\n  const require = () => ({ workerData: e.data });\n  ${source}\n};\n`;
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    this.worker = new WebWorker(url);
    URL.revokeObjectURL(url);
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.emit('error', new Error(e.message));
    };
    this.worker.postMessage(options.workerData);
  }

  private emit(event: string, arg: unknown): void {
    for (const h of this.handlers[event] ?? []) h(arg);
  }

  on(event: 'error' | 'exit', handler: Handler): this {
    (this.handlers[event] ??= []).push(handler);
    return this;
  }

  unref(): this {
    return this;
  }

  async terminate(): Promise<number> {
    this.worker.terminate();
    if (!this.exited) {
      this.exited = true;
      this.emit('exit', 1);
    }
    return 1;
  }
}

export default { Worker, workerData, isMainThread };
