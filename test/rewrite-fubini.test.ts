// Reordering nested expectations (src/compiler/rewrite-fubini.ts): the
// student–teacher MMD written as a pair expectation whose kernel integrates
// over the data costs O(N·D) per step (no inline nested loop, the work of
// every stage is a domain times one measure), and its kernels still equal the
// interpreter's evaluation of the unrewritten IR; its velocity equals the
// regression form's.

import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, type Compiled } from '../src/compiler/compile.js';
import * as ir from '../src/compiler/ir.js';
import { QUERY } from '../src/compiler/schedule.js';
import { loadMeasures } from '../src/runtime/inputs.js';
import { cpuAndInterpreter } from './interpret.js';

const FILE = path.join(os.tmpdir(), 'fubini.flow');

function compiled(source: string): Compiled {
  const r = compile(source, { file: FILE });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length) throw new Error(errors.map((d) => d.message).join('; '));
  return r.compiled;
}

const N = 30;
const D = 50;
const spec = (energy: string, n = N, d = D) => `flow student
seed 11
particles mu in (w: R, theta: R^2): ${n} ~ (w: normal(0, 1), theta: normal(0, 1))
sample teacher in (w: R, theta: R^2): 4 ~ (w: normal(0, 1), theta: normal(0, 1))
sample data in R^2: ${d} ~ normal(0, 1)
fn phi(u, x) = u.w * tanh(dot(u.theta, x))
fn target(x) = E[v ~ teacher] phi(v, x)
energy F = ${energy}
scheme euler(step = 0.1, steps = 1)
`;
const PAIR_ENERGY = '1/2 * E[u ~ mu, v ~ mu] E[x ~ data] phi(u, x) * phi(v, x) - E[u ~ mu] E[x ~ data] phi(u, x) * target(x)';
const REGRESSION_ENERGY = '1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - target(x))^2';
const PAIR = spec(PAIR_ENERGY);
const REGRESSION = spec(REGRESSION_ENERGY);

/** Pairs of points one step visits: for each stage, its domain's size times the sizes of the measures it reduces over, nested loops included. */
function workPerStep(c: Compiled): number {
  const { measures } = loadMeasures(c.ir);
  const size = (m: string | null) => (m === null ? 1 : m === QUERY ? N : measures.find((x) => x.name === m)!.size);
  const inline = (n: ir.Node): number => Math.max(1, ...ir.topoOrder([n]).filter((x): x is ir.NodeOf<'expect'> => x.kind === 'expect').map((e) => size(e.measure) * inline(e.body)));
  let work = 0;
  for (const p of Object.values(c.plan.programs))
    for (const s of p.stages) {
      work += size(s.domain) * Math.max(1, ...s.outputs.map(inline));
      for (const r of s.reductions) work += size(s.domain) * size(r.measure) * Math.max(...r.buffers.map((b) => inline(c.plan.buffers[b].expr.body)));
    }
  return work;
}


describe('reordering nested expectations (Fubini)', () => {
  it('the pair form costs O(N·D) per step: no nested loop left in the plan', () => {
    const c = compiled(PAIR);
    // the unrewritten velocity sums over (mu, data) inside a sum over mu: an O(N²·D) nested loop as written
    const nested = ir.topoOrder(c.velocity).some((n) => n.kind === 'expect' && ir.topoOrder([n.body]).some((m) => m.kind === 'expect'));
    expect(nested).toBe(true);
    const work = workPerStep(c);
    expect(work).toBeLessThan(10 * N * D);
    expect(work).toBeLessThanOrEqual(2 * workPerStep(compiled(REGRESSION)));
  });

  it('gives the velocity and energy of the unrewritten IR, and the velocity of the regression form', () => {
    // small sizes: the interpreter evaluates the unrewritten O(N²·D) form
    const pair = cpuAndInterpreter(compiled(spec(PAIR_ENERGY, 8, 10)));
    pair.ref.v.forEach((x, k) => expect(Math.abs(pair.v[k] - x)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(x))));
    expect(Math.abs(pair.energy - pair.ref.energy)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(pair.ref.energy)));
    const reg = cpuAndInterpreter(compiled(spec(REGRESSION_ENERGY, 8, 10)));
    reg.v.forEach((x, k) => expect(Math.abs(pair.v[k] - x)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(x))));
  });

  it('leaves a nesting alone when no factor can leave the inner sum', () => {
    // E[u ~ mu] E[x ~ data] (phi(u, x) + |x|): the body is not a product of a u-part and an x-part
    const c = compiled(spec('E[u ~ mu, v ~ mu] E[x ~ data] (phi(u, x) * phi(v, x) + |x|^2)'));
    expect(workPerStep(c)).toBeGreaterThan(N * N * D);
  });
});
