// Globals of Node that flowc's runtime reads, for the browser build (esbuild
// `inject`): Buffer (the npm 'buffer' package, Node's own API), a process
// with what run.json and the runtime ask of it, and setImmediate (the time
// loop lets the event loop turn with it, so that a Stop message gets in).

import { Buffer as BufferImpl } from 'buffer';

export const Buffer = BufferImpl;

export const process = {
  version: 'browser',
  versions: {},
  pid: 1,
  // the page has no disk to keep assembled modules on (runtime/wasm-assemble.ts)
  env: { FLOWC_CACHE: 'off' } as Record<string, string | undefined>,
  platform: 'browser',
  argv: [] as string[],
  cwd: () => '/',
  kill: (pid: number) => {
    // run-dir.ts asks whether a lock's owner lives: only this page writes here
    if (pid !== 1) {
      const e = new Error('ESRCH') as Error & { code: string };
      e.code = 'ESRCH';
      throw e;
    }
    return true;
  },
};

const channel = typeof MessageChannel === 'function' ? new MessageChannel() : undefined;
const queue: (() => void)[] = [];
if (channel)
  channel.port1.onmessage = () => {
    const f = queue.shift();
    f?.();
  };

/** The next turn of the event loop (a message, not setTimeout's clamped 4 ms). */
export function setImmediate(f: (...args: unknown[]) => void, ...args: unknown[]): number {
  if (!channel) return setTimeout(f, 0, ...args) as unknown as number;
  queue.push(() => f(...args));
  channel.port2.postMessage(0);
  return 0;
}
