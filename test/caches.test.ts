// A long-lived process (flowc sweep, the fuzzer, a program using the API)
// compiles many specs: the caches of compiled code keep the most recently
// used ones only. (Unbounded, they grew the fuzzer's heap by ~0.8 MB an
// input until garbage collection took over 20 s on one input.) The
// WebAssembly binaries are also kept on disk (wasm-assemble.ts): sound ones
// are used, damaged ones replaced, the folder bounded.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedStages, compileStage } from '../src/runtime/backend-cpu.js';
import { assemble, assembleWithCache, BINARIES_KEPT, cachedModules } from '../src/runtime/wasm-assemble.js';
import { flowc, SMALL_FLOWS, tempDir } from './helpers.js';

describe('caches of compiled code', () => {
  it('stage functions: bounded, and a hit returns the same function', () => {
    const first = compileStage('return 0;');
    for (let i = 0; i < 1000; i++) compileStage(`return ${i + 1};`);
    expect(cachedStages()).toBeLessThanOrEqual(256);
    expect(cachedStages()).toBeGreaterThan(0);
    const again = compileStage('return 1000;');
    expect(compileStage('return 1000;')).toBe(again);
    expect(compileStage('return 0;')).not.toBe(first);
  });

  it('wasm modules: bounded, and a hit returns the same module', async () => {
    const wat = (i: number) => `(module (func (export "f") (result i32) i32.const ${i}))`;
    const first = await assemble(wat(0));
    expect(await assemble(wat(0))).toBe(first);
    for (let i = 1; i <= 40; i++) await assemble(wat(i));
    expect(cachedModules()).toBeLessThanOrEqual(32);
    expect(await assemble(wat(40))).toBe(await assemble(wat(40)));
    expect(await assemble(wat(0))).not.toBe(first);
  });

  const wat = (i: number) => `(module (func (export "f") (result i32) i32.const ${i}))`;
  const call = (m: WebAssembly.Module) => (new WebAssembly.Instance(m).exports.f as () => number)();
  const fileOf = (dir: string, text: string) => path.join(dir, `${createHash('sha256').update(text).digest('hex')}.wasm`);

  it('binaries on disk: stored by wabt, then read back; a damaged file or one that does not compile is assembled again and replaced', async () => {
    const dir = tempDir();
    expect(await assembleWithCache(wat(7), dir)).toMatchObject({ from: 'wabt' });
    const file = fileOf(dir, wat(7));
    const stored = fs.readFileSync(file);
    const again = await assembleWithCache(wat(7), dir);
    expect(again.from).toBe('disk');
    expect(call(again.module)).toBe(7);
    // one bit flipped in the binary: the checksum fails
    const flipped = Buffer.from(stored);
    flipped[flipped.length - 3] ^= 1;
    fs.writeFileSync(file, flipped);
    const repaired = await assembleWithCache(wat(7), dir);
    expect(repaired.from).toBe('wabt');
    expect(call(repaired.module)).toBe(7);
    expect(fs.readFileSync(file)).toEqual(stored);
    // a sound checksum over bytes that are not a module
    const junk = Buffer.from('not a module');
    fs.writeFileSync(file, Buffer.concat([createHash('sha256').update(junk).digest(), junk]));
    expect(await assembleWithCache(wat(7), dir)).toMatchObject({ from: 'wabt' });
    expect(fs.readFileSync(file)).toEqual(stored);
    // shorter than a checksum
    fs.writeFileSync(file, 'x');
    expect(await assembleWithCache(wat(7), dir)).toMatchObject({ from: 'wabt' });
    // no folder: nothing kept
    expect(await assembleWithCache(wat(8), undefined)).toMatchObject({ from: 'wabt' });
    expect(fs.readdirSync(dir)).toEqual([path.basename(file)]);
  });

  it('binaries on disk: at most BINARIES_KEPT files, the least recently used removed first', async () => {
    const dir = tempDir();
    await assembleWithCache(wat(0), dir);
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(fileOf(dir, wat(0)), old, old);
    // a killed writer's temporary file: removed once it is over an hour old
    for (const [name, age] of [['.a.wasm.1.0.tmp', 2 * 3600_000], ['.b.wasm.1.0.tmp', 0]] as const) {
      fs.writeFileSync(path.join(dir, name), 'partial');
      const t = new Date(Date.now() - age);
      fs.utimesSync(path.join(dir, name), t, t);
    }
    for (let i = 1; i <= BINARIES_KEPT + 4; i++) {
      await assembleWithCache(wat(i), dir);
      const t = new Date(Date.now() - 3600_000 + i * 1000);
      fs.utimesSync(fileOf(dir, wat(i)), t, t);
      // module 1, read again now and then, stays recently used
      if (i % 50 === 0) expect((await assembleWithCache(wat(1), dir)).from).toBe('disk');
    }
    const left = fs.readdirSync(dir).filter((f) => f.endsWith('.wasm'));
    expect(left.length).toBe(BINARIES_KEPT);
    expect(left).not.toContain(path.basename(fileOf(dir, wat(0))));
    expect(left).toContain(path.basename(fileOf(dir, wat(1))));
    expect(left).toContain(path.basename(fileOf(dir, wat(BINARIES_KEPT + 4))));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual(['.b.wasm.1.0.tmp']);
  });

  it('flowc run keeps its module in the user cache folder and gives the same run from it; FLOWC_CACHE=off keeps none', () => {
    const dir = tempDir({ 's.flow': SMALL_FLOWS.mmd.replace('steps = 1)', 'steps = 20)') + 'record every 5: F, positions(mu)\n' });
    const env = { XDG_CACHE_HOME: path.join(dir, 'cache') };
    expect(flowc(['run', 's.flow', '--out', 'a', '--quiet'], { cwd: dir, env }).code).toBe(0);
    const stored = fs.readdirSync(path.join(dir, 'cache', 'flowc', 'wasm'));
    expect(stored).toHaveLength(1);
    // a different seed and constant: the same module
    expect(flowc(['run', 's.flow', '--out', 'b', '--quiet', '--seed', '5', '--set', 'sigma=0.5'], { cwd: dir, env }).code).toBe(0);
    expect(flowc(['run', 's.flow', '--out', 'c', '--quiet'], { cwd: dir, env }).code).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'cache', 'flowc', 'wasm'))).toEqual(stored);
    for (const f of ['mu.npy', 'trace.csv']) expect(fs.readFileSync(path.join(dir, 'c', f))).toEqual(fs.readFileSync(path.join(dir, 'a', f)));
    const off = { XDG_CACHE_HOME: path.join(dir, 'cache2'), FLOWC_CACHE: 'off' };
    expect(flowc(['run', 's.flow', '--out', 'd', '--quiet'], { cwd: dir, env: off }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'cache2', 'flowc', 'wasm'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'd', 'mu.npy'))).toEqual(fs.readFileSync(path.join(dir, 'a', 'mu.npy')));
  });
});
