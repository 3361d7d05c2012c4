// A slow, obviously correct interpreter of the scalar IR (src/compiler/ir.ts),
// used by the tests as an oracle independent of scheduling and code
// generation. It evaluates an expression tree directly from its definition:
// numbers, parameters and point-variable components are looked up, ops are
// applied through the op table's `evaluate`, and `E[j~m] body` is the plain
// average of `body` over the points of m with j bound to each point in turn;
// `[a != b] body` is 0 when a and b are bound to points of the same index.
//
// Results are memoised per node and per binding of the node's free variables
// only, which keeps shared DAGs (derivatives reuse their primal nodes) cheap
// without changing what is computed.

import type { Compiled } from '../src/compiler/compile.js';
import * as ir from '../src/compiler/ir.js';
import type { Node } from '../src/compiler/ir.js';
import { OPS } from '../src/compiler/ops.js';
import { CpuBackend } from '../src/runtime/backend-cpu.js';
import { loadMeasures } from '../src/runtime/inputs.js';

export interface InterpretEnv {
  /** value of component c of parameter `name` */
  param(name: string, c: number): number;
  /** points of a measure, row-major (size × dim) */
  measure(name: string): { data: Float64Array; size: number; dim: number };
}

export interface Binding {
  data: Float64Array;
  /** row offset of the bound point */
  offset: number;
}

/** Evaluate `root` with the free point variables bound as given. */
export function interpret(root: Node, env: InterpretEnv, free: Map<number, Binding> = new Map()): number {
  const freeVars = ir.freeVarsOf();
  const bound = new Map(free);
  const memo = new Map<string, number>();
  const keyOf = (n: Node): string => {
    let key = String(n.id);
    for (const v of freeVars(n)) {
      const b = bound.get(v);
      if (!b) throw new Error(`interpret: unbound point variable ${v}`);
      key += `|${v}:${b.offset}:${ids.get(b.data) ?? register(b.data)}`;
    }
    return key;
  };
  const ids = new Map<Float64Array, number>();
  const register = (a: Float64Array) => {
    ids.set(a, ids.size);
    return ids.size - 1;
  };

  const go = (n: Node): number => {
    const key = keyOf(n);
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let out: number;
    switch (n.kind) {
      case 'num':
        out = n.value;
        break;
      case 'param':
        out = env.param(n.name, n.c);
        break;
      case 'var': {
        const b = bound.get(n.v)!;
        out = b.data[b.offset + n.c];
        break;
      }
      case 'op':
        out = OPS[n.op].evaluate(n.args.map(go));
        break;
      case 'expect': {
        const m = env.measure(n.measure);
        const saved = bound.get(n.v);
        let s = 0;
        for (let j = 0; j < m.size; j++) {
          bound.set(n.v, { data: m.data, offset: j * m.dim });
          s += go(n.body);
        }
        if (saved) bound.set(n.v, saved);
        else bound.delete(n.v);
        out = s / m.size;
        break;
      }
      case 'skip': {
        // distinct pairs: the points' indices (row offset / dimension) differ
        const index = (v: number) => bound.get(v)!.offset / ir.varInfo(v).dim;
        out = index(n.a) === index(n.b) ? 0 : go(n.body);
        break;
      }
      case 'load':
        throw new Error('interpret: the interpreter reads unscheduled IR only (found a load)');
      default:
        return ir.assertNever(n);
    }
    memo.set(key, out);
    return out;
  };
  return go(root);
}

/** An environment from plain maps (parameters by `name:c`). */
export function envOf(
  params: Record<string, number[]>,
  measures: { name: string; data: Float64Array; size: number; dim: number }[],
): InterpretEnv {
  return {
    param(name, c) {
      const v = params[name]?.[c];
      if (v === undefined) throw new Error(`interpret: unknown parameter ${name}[${c}]`);
      return v;
    },
    measure(name) {
      const m = measures.find((x) => x.name === name);
      if (!m) throw new Error(`interpret: unknown measure ${name}`);
      return m;
    },
  };
}

/**
 * A particle flow's velocity (at every particle) and energy from the cpu:js
 * backend, beside the interpreter's values of the same IR: the reference
 * for checks of scheduling, code generation and the rewrites.
 */
export function cpuAndInterpreter(c: Compiled): { v: Float64Array; energy: number; ref: { v: number[]; energy: number } } {
  const { measures } = loadMeasures(c.ir);
  const params: Record<string, number[]> = { n: [0], t: [0] };
  for (const p of c.ir.params) params[p.name] = p.value;
  const env = envOf(params, measures);
  const particles = measures.find((m) => m.name === c.ir.particles)!;
  const positions = particles.data.slice();
  const backend = new CpuBackend(c, measures, positions);
  backend.setup();
  const v = new Float64Array(positions.length);
  backend.velocity(v);
  const obs = new Float64Array(c.observed.length);
  backend.observe(obs);
  const d = particles.dim;
  const refV: number[] = [];
  for (let i = 0; i < particles.size; i++) c.velocity.forEach((node) => refV.push(interpret(node, env, new Map([[c.queryVar!.id, { data: positions, offset: i * d }]]))));
  return { v, energy: obs[0], ref: { v: refV, energy: interpret(c.ir.energy.node, env) } };
}
