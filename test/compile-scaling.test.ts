// Compile time grows about linearly with the dimension (issue 10: R^1000
// took 20-100 s, most of it in passes that walked every expectation's body
// or the whole expression once per coordinate). Counted, not timed: the
// nodes the passes look up or make, and the nodes the memoised rewrites
// visit, for ½MMD² with a Gaussian kernel in R^d. And the passes do not
// recurse along a sum of d terms: R^4096, the largest dimension, compiles.

import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile.js';
import * as ir from '../src/compiler/ir.js';

const spec = (d: number) => `flow mmd
seed 1
particles mu in R^${d}: 20 ~ normal(0, 1)
sample nu in R^${d}: 20 ~ normal(1, 1)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.1, steps = 2)
`;

function work(d: number): { interned: number; visits: number } {
  ir.work.interned = 0;
  ir.work.visits = 0;
  const r = compile(spec(d), { file: 'mmd.flow' });
  expect(r.diagnostics).toEqual([]);
  return { ...ir.work };
}

describe('compile work against the dimension', () => {
  it('grows linearly: 4 times the dimension, at most 4.5 times the work (a pass per coordinate over the whole expression makes it 16 times)', () => {
    const small = work(64);
    const large = work(256);
    expect(large.interned / small.interned).toBeLessThan(4.5);
    expect(large.visits / small.visits).toBeLessThan(4.5);
    expect(large.interned).toBeGreaterThan(3.5 * small.interned);
  });

  it('R^4096 (the largest dimension) compiles: no pass recurses along the sum |x - y|^2', () => {
    const r = compile(spec(4096), { file: 'mmd.flow' });
    expect(r.diagnostics).toEqual([]);
    expect(r.compiled?.kernels.programs).toBeDefined();
  }, 600_000);
});

describe('a spec the compiler takes but the WebAssembly code generator may not', () => {
  it('R^2000 on the default cpu backend: runs, or a diagnostic that names --backend cpu:js (never a stack overflow); cpu:js runs it', async () => {
    const { runCompiled } = await import('../src/api.js');
    const { FlowError } = await import('../src/compiler/diagnostics.js');
    const r = compile(spec(2000).replace(/: 20 ~/g, ': 1 ~'), { file: 'mmd.flow' });
    expect(r.diagnostics).toEqual([]);
    try {
      await runCompiled(r.compiled!, { threads: 1 });
    } catch (e) {
      expect(e).toBeInstanceOf(FlowError);
      expect((e as InstanceType<typeof FlowError>).diagnostics[0].message).toMatch(/too large for the WebAssembly code generator .*--backend cpu:js/);
    }
    const js = await runCompiled(r.compiled!, { threads: 1, kernels: 'js' });
    expect(js.result.steps).toBe(2);
  }, 600_000);
});
