// The start-up path of `flowc check` and `flowc compile` (summary). Loading
// the whole command line (about 60 ES modules, commander, chevrotain) and
// compiling their JavaScript took most of check's 0.3-0.4 s on a quiet
// machine; Node 20 has no compile cache for ES modules. So `npm run build`
// also bundles src/cli/front-commands.ts (the front end only) into one
// CommonJS file, dist/front.cjs (scripts/bundle-front.mjs),
// and this loader runs it through vm.Script with V8's code cache: the
// functions compiled by the first check are stored and reused by the next
// ones. Measured by bench/start-up.js.
//
// The cache is keyed by the bundle's sha256, the node version and the
// architecture (V8 validates a cache only by its own version, flags and the
// source's length), written atomically (rename), next to the bundle or,
// where that folder is read-only (a global install), in ~/.cache/flowc. A
// missing, stale or rejected cache only costs time; a missing bundle sends
// the command to the full command line.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { userCacheDir, writeAtomically } from '../user-cache.js';

/** dist/front.cjs, beside dist/src/ */
export const FRONT_BUNDLE = fileURLToPath(new URL('../../front.cjs', import.meta.url));

export type CacheState = 'accepted' | 'written' | 'rejected' | 'unwritable';

/** Folders that may hold the code cache, in the order they are tried. */
function cacheDirs(bundle: string): string[] {
  return [path.dirname(bundle), userCacheDir()];
}

/**
 * Run a CommonJS bundle with V8's code cache and return its exports. `after`
 * runs the bundle's work before the cache is written, so that the cache holds
 * the functions that work compiled (V8 compiles most functions lazily).
 */
export function loadWithCodeCache<T, R>(bundle: string, after: (exports: T) => R, dirs = cacheDirs(bundle)): { result: R; cache: CacheState } {
  const source = fs.readFileSync(bundle, 'utf8');
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const name = `${path.basename(bundle)}.${key}.${process.version}.${process.arch}.v8cache`;
  let cached: Buffer | undefined;
  for (const dir of dirs) {
    try {
      cached = fs.readFileSync(path.join(dir, name));
      break;
    } catch {
      // not there: the next folder
    }
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: bundle, cachedData: cached });
  const module = { exports: {} as T };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  const result = after(module.exports);
  if (cached && !script.cachedDataRejected) return { result, cache: 'accepted' };
  let data: Buffer;
  try {
    data = script.createCachedData();
  } catch {
    return { result, cache: 'unwritable' };
  }
  for (const dir of dirs) if (writeCache(dir, name, data, path.basename(bundle))) return { result, cache: cached ? 'rejected' : 'written' };
  return { result, cache: 'unwritable' };
}

/** Write the cache into DIR (atomically); false where DIR cannot take it. Removes the caches of other builds there. */
function writeCache(dir: string, name: string, data: Buffer, bundleName: string): boolean {
  if (!writeAtomically(dir, name, data)) return false;
  // the caches of other builds or node versions are of no more use
  try {
    for (const f of fs.readdirSync(dir)) if (f !== name && f.startsWith(`${bundleName}.`) && f.endsWith('.v8cache')) fs.rmSync(path.join(dir, f), { force: true });
  } catch {
    // left for the next build
  }
  return true;
}

/**
 * `flowc check ...` or `flowc compile ...` from the bundle: the exit code, or
 * undefined when the bundle is absent (only `tsc` was run) or the arguments
 * need the full command line (--emit, help, usage errors). FLOWC_START=full
 * skips this path; FLOWC_START=verbose says on stderr what the cache did.
 */
export function fastFront(argv: string[]): number | undefined {
  if (process.env.FLOWC_START === 'full' || !fs.existsSync(FRONT_BUNDLE)) return undefined;
  let ran = false;
  try {
    const { result, cache } = loadWithCodeCache(FRONT_BUNDLE, (m: { runFrontCommand(argv: string[]): number | undefined }) => ((ran = true), m.runFrontCommand(argv)));
    if (process.env.FLOWC_START === 'verbose') process.stderr.write(`flowc: ${argv[0]} from ${path.basename(FRONT_BUNDLE)}, code cache ${cache}\n`);
    return result;
  } catch (e) {
    // a bundle that does not load (damaged, or from another flowc): the full command line answers
    if (ran) throw e;
    if (process.env.FLOWC_DEBUG) process.stderr.write(`flowc: ${path.basename(FRONT_BUNDLE)} did not load: ${(e as Error).message}\n`);
    return undefined;
  }
}
