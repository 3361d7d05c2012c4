// WebAssembly text (codegen-wasm.ts) → a compiled WebAssembly.Module.
//
// wabt (the WebAssembly Binary Toolkit, compiled to wasm) assembles the
// text. Loading it, instantiating it and its first parse cost most of a
// small run's `kernels` time (about 0.18 s of 0.2 s for mmd-three-modes,
// whose module is 26 KB), so the binaries it makes are kept:
//
// - in memory, by their text, for a long-lived process (a sweep, the fuzzer,
//   a program using the API): the last MODULES_KEPT modules;
// - on disk, in the user's cache folder (user-cache.ts) under wasm/, named
//   by the sha256 of the text: a module depends on the spec's structure, not
//   on its --set values, seed or data, so reruns, sweeps and parameter
//   changes find it. Each file starts with the sha256 of the binary after
//   it, checked on reading; a file that fails the check or does not compile
//   is assembled again and replaced. At most BINARIES_KEPT files and
//   BINARY_BYTES_KEPT bytes are kept, the least recently used removed first.
//   FLOWC_CACHE=off keeps nothing on disk.
//
// wabt is imported only when a text is assembled, not when flowc loads.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { userCacheDir, writeAtomically } from '../user-cache.js';

type Wabt = Awaited<ReturnType<typeof import('wabt')>>;
let wabt: Promise<Wabt> | undefined;

/** Compiled modules by their WAT text, the most recently used last; bounded, so a long-lived process does not grow with every spec it runs. */
const modules = new Map<string, WebAssembly.Module>();
const MODULES_KEPT = 32;
/** How many compiled modules are kept in memory (tests: the cache is bounded). */
export const cachedModules = (): number => modules.size;

export const BINARIES_KEPT = 256;
export const BINARY_BYTES_KEPT = 256 * 2 ** 20;
const SHA = 32;

/** The folder of assembled modules, or undefined when FLOWC_CACHE=off. */
export function binaryCacheDir(): string | undefined {
  if (process.env.FLOWC_CACHE === 'off') return undefined;
  try {
    return path.join(userCacheDir(), 'wasm');
  } catch {
    return undefined; // no home folder to find: nothing kept
  }
}

/** Assemble WAT text into a compiled module (kept by the text, in memory and on disk). */
export async function assemble(wat: string): Promise<WebAssembly.Module> {
  const hit = modules.get(wat);
  if (hit) {
    modules.delete(wat);
    modules.set(wat, hit);
    return hit;
  }
  const { module } = await assembleWithCache(wat, binaryCacheDir());
  modules.set(wat, module);
  if (modules.size > MODULES_KEPT) modules.delete(modules.keys().next().value!);
  return module;
}

/** The module of `wat`, from the binary in DIR when one is there and sound, else from wabt (and then stored in DIR). */
export async function assembleWithCache(wat: string, dir: string | undefined): Promise<{ module: WebAssembly.Module; from: 'disk' | 'wabt' }> {
  // (hashing the text is skipped without a folder: 150 ms for the 50 MB of R^4096)
  const name = dir && `${createHash('sha256').update(wat).digest('hex')}.wasm`;
  if (dir && name) {
    const binary = readBinary(path.join(dir, name));
    if (binary) {
      try {
        return { module: new WebAssembly.Module(binary), from: 'disk' };
      } catch {
        // sound bytes that do not compile (written by another V8's flowc?): assemble again
      }
    }
  }
  const binary = await wabtBinary(wat);
  const module = new WebAssembly.Module(binary);
  if (dir && name && writeAtomically(dir, name, Buffer.concat([sha256(binary), binary]))) prune(dir);
  return { module, from: 'wabt' };
}

async function wabtBinary(wat: string): Promise<Uint8Array<ArrayBuffer>> {
  wabt ??= import('wabt').then((m) => m.default());
  const w = await wabt;
  const parsed = w.parseWat('flowc.wat', wat, { simd: true, threads: true });
  try {
    parsed.resolveNames();
    // (wabt's validate() ignores the features given to parseWat; V8 validates the binary)
    return parsed.toBinary({}).buffer as Uint8Array<ArrayBuffer>;
  } finally {
    parsed.destroy();
  }
}

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();

/** The binary stored in FILE when its checksum holds (and the file is marked used), else undefined. */
function readBinary(file: string): Uint8Array<ArrayBuffer> | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length <= SHA) return undefined;
  const binary = new Uint8Array(bytes.buffer, bytes.byteOffset + SHA, bytes.length - SHA) as Uint8Array<ArrayBuffer>;
  if (!sha256(binary).equals(bytes.subarray(0, SHA))) return undefined;
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // a read-only cache is still read
  }
  return binary;
}

/** Remove the least recently used binaries beyond BINARIES_KEPT files or BINARY_BYTES_KEPT bytes, and temporary files over an hour old. */
function prune(dir: string): void {
  try {
    const now = Date.now();
    const entries = fs
      .readdirSync(dir)
      .map((f) => ({ f, st: fs.statSync(path.join(dir, f), { throwIfNoEntry: false }) }))
      .filter((e): e is { f: string; st: fs.Stats } => e.st !== undefined);
    // temporary files of writers killed before their rename
    for (const { f, st } of entries) if (f.endsWith('.tmp') && now - st.mtimeMs > 3600_000) fs.rmSync(path.join(dir, f), { force: true });
    const files = entries.filter(({ f }) => /^[0-9a-f]{64}\.wasm$/.test(f)).sort((a, b) => b.st.mtimeMs - a.st.mtimeMs);
    let bytes = 0;
    files.forEach(({ f, st }, i) => {
      bytes += st.size;
      if (i >= BINARIES_KEPT || bytes > BINARY_BYTES_KEPT) fs.rmSync(path.join(dir, f), { force: true });
    });
  } catch {
    // left for the next write
  }
}
