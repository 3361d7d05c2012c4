// A long-lived process (flowc sweep, the fuzzer, a program using the API)
// compiles many specs: the caches of compiled code keep the most recently
// used ones only. (Unbounded, they grew the fuzzer's heap by ~0.8 MB an
// input until garbage collection took over 20 s on one input.)

import { describe, expect, it } from 'vitest';
import { cachedStages, compileStage } from '../src/runtime/backend-cpu.js';
import { assemble, cachedModules } from '../src/runtime/backend-wasm.js';

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
});
