// flowc's per-user cache folder: $XDG_CACHE_HOME/flowc, else ~/.cache/flowc.
// It holds what only saves time: the gpu backend's timed choice of mode
// (runtime/gpu/select.ts), the start-up bundle's V8 code cache where the
// bundle's own folder is read-only (cli/fast-start.ts), and assembled
// WebAssembly modules (runtime/wasm-binary-cache.ts). Deleting it is always
// safe; a folder that cannot be written only costs time.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';

export function userCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'flowc');
}

/** Write DIR/NAME by a rename, so that readers see the whole file or none; false where DIR cannot take it. */
export function writeAtomically(dir: string, name: string, data: string | Uint8Array): boolean {
  // (a sweep's runs may share a process: the thread is part of the name)
  const tmp = path.join(dir, `.${name}.${process.pid}.${threadId}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path.join(dir, name));
    return true;
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing was written
    }
    return false;
  }
}
