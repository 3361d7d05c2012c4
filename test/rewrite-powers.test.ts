// The static-power rewrite (src/compiler/rewrite-powers.ts): the plan loses
// its pow ops (the kernels call sqrt or multiply instead of Math.pow), and
// the velocity and energy the kernels compute still equal the interpreter's
// evaluation of the unrewritten IR (c.velocity, c.ir.energy).

import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, type Compiled } from '../src/compiler/compile.js';
import * as ir from '../src/compiler/ir.js';
import { powerOf, staticValue } from '../src/compiler/rewrite-powers.js';
import { cpuAndInterpreter, envOf, interpret } from './interpret.js';

const FILE = path.join(os.tmpdir(), 'powers.flow');

function compiled(source: string): Compiled {
  const r = compile(source, { file: FILE });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length) throw new Error(errors.map((d) => d.message).join('; '));
  return r.compiled;
}

const imq = (beta: string) => `flow imq
seed 3
let beta = ${beta}
let c = 0.7
particles mu in R^2: 40 ~ normal(0, 1)
sample nu in R^2: 30 ~ normal(1, 0.5)
kernel k(x, y) = (c^2 + |x - y|^2)^beta
energy F = 1/2 * mmd2(mu, nu; k) + E[x ~ mu] |x|^3 / 10
scheme euler(step = 0.1, steps = 1)
`;

const opsInPlan = (c: Compiled): Set<string> => {
  const roots = [...c.plan.buffers.map((b) => b.expr), ...Object.values(c.plan.programs).flatMap((p) => p.roots)];
  // x^2 is the smart constructors' square (emitted as x * x): a pow only when its exponent is something else
  const general = (n: ir.Node) => n.kind === 'op' && n.op === 'pow' && !(n.args[1].kind === 'num' && n.args[1].value === 2);
  return new Set(ir.topoOrder(roots).flatMap((n) => (n.kind === 'op' && (n.op !== 'pow' || general(n)) ? [n.op] : [])));
};

function checkAgainstInterpreter(c: Compiled): void {
  const { v, energy, ref } = cpuAndInterpreter(c);
  expect(Math.abs(energy - ref.energy)).toBeLessThanOrEqual(1e-13 * Math.abs(ref.energy));
  ref.v.forEach((r, k) => expect(Math.abs(v[k] - r)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(r))));
}

describe('static powers', () => {
  it('x^-0.5 with a let exponent becomes 1/sqrt, and its derivative x^-1.5 becomes 1/(x sqrt x): no pow in the plan, same results', () => {
    const c = compiled(imq('-0.5'));
    // the unrewritten IR has pow (the oracle below evaluates it)
    expect(ir.topoOrder(c.velocity).some((n) => n.kind === 'op' && n.op === 'pow' && n.args[1].kind !== 'num')).toBe(true);
    const ops = opsInPlan(c);
    expect(ops.has('pow')).toBe(false);
    expect(ops.has('sqrt')).toBe(true);
    expect(Object.values(c.kernels.programs).flat().join('\n')).not.toContain('Math.pow');
    checkAgainstInterpreter(c);
  });

  it('an exponent that is not rewritten keeps its pow, with the same results', () => {
    const c = compiled(imq('-0.7'));
    expect(opsInPlan(c).has('pow')).toBe(true);
    checkAgainstInterpreter(c);
  });

  it('integer powers become products, negative ones their reciprocals', () => {
    const x = ir.newVar('m', 1, 'x');
    const xv = ir.pvar(x.id, 0);
    const env = envOf({}, [{ name: 'm', data: Float64Array.from([1.7]), size: 1, dim: 1 }]);
    const at = new Map([[x.id, { data: Float64Array.from([1.7]), offset: 0 }]]);
    for (const p of [-8, -3, -2, -1, 0, 1, 2, 3, 4, 5, 7, 8, 0.5, -0.5, 1.5, -1.5]) {
      const r = powerOf(xv, p)!;
      expect(ir.topoOrder([r]).some((n) => n.kind === 'op' && n.op === 'pow' && n.args[1].kind === 'num' && n.args[1].value !== 2), `x^${p}`).toBe(false);
      const got = interpret(r, env, at);
      expect(Math.abs(got - Math.pow(1.7, p))).toBeLessThanOrEqual(4e-16 * Math.pow(1.7, p) * Math.max(1, Math.abs(p)));
    }
    expect(powerOf(xv, 9)).toBeUndefined();
    expect(powerOf(xv, 0.3)).toBeUndefined();
  });

  it('a static exponent is an expression of numbers and let constants only', () => {
    const lets = new Map([['beta', [-0.5]]]);
    expect(staticValue(ir.add(ir.param('beta'), ir.num(-1)), lets)).toBe(-1.5);
    expect(staticValue(ir.param('n'), lets)).toBeUndefined();
    const x = ir.newVar('m', 1, 'x');
    expect(staticValue(ir.add(ir.param('beta'), ir.pvar(x.id, 0)), lets)).toBeUndefined();
  });
});
