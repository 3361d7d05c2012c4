// Unit tests of the compiler passes, one block per file of src/compiler/:
// ir.ts (smart constructors), ops.ts (the op table), desugar.ts, lower.ts,
// derive.ts, schedule.ts and codegen-js.ts. Values are checked by evaluating
// with the tree interpreter of test/interpret.ts or with plain JS formulas.

import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { parse } from '../grammar/parser.js';
import type { Expr, Program } from '../src/compiler/ast.js';
import { compile, type Compiled } from '../src/compiler/compile.js';
import { desugar } from '../src/compiler/desugar.js';
import { derivative, firstVariation, w2Velocity } from '../src/compiler/derive.js';
import * as ir from '../src/compiler/ir.js';
import type { Node, VarInfo } from '../src/compiler/ir.js';
import { lower } from '../src/compiler/lower.js';
import { OPS, type OpName } from '../src/compiler/ops.js';
import { loadsIn, QUERY, type Plan } from '../src/compiler/schedule.js';
import { CpuBackend } from '../src/runtime/backend-cpu.js';
import { loadMeasures } from '../src/runtime/inputs.js';
import { envOf, interpret } from './interpret.js';

// ------------------------------------------------------------ helpers

const FILE = path.join(os.tmpdir(), 'passes.flow');

function compiled(source: string, overrides?: Record<string, number[]>): Compiled {
  const r = compile(source, { file: FILE, overrides });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length) throw new Error(`did not compile: ${errors.map((d) => d.message).join('; ')}\n${source}`);
  return r.compiled;
}

function parsed(source: string): Program {
  const r = parse(source, FILE);
  expect(r.diagnostics).toEqual([]);
  return r.program!;
}

function lowered(source: string, overrides?: Record<string, number[]>) {
  return lower(desugar(parsed(source)), { overrides });
}

const errorsOf = (source: string, overrides?: Record<string, number[]>) =>
  lowered(source, overrides).diagnostics.filter((d) => d.severity === 'error');

/** The interpreter's environment for a compiled flow at its initial positions. */
function envFor(c: Compiled) {
  const { measures } = loadMeasures(c.ir);
  const params: Record<string, number[]> = { n: [0], t: [0] };
  for (const p of c.ir.params) params[p.name] = p.value;
  return { env: envOf(params, measures), measures };
}

const ops = (root: Node): Set<string> => new Set(ir.topoOrder([root]).flatMap((n) => (n.kind === 'op' ? [n.op] : [])));

const HEAD = `flow t
seed 5
scheme euler(step = 0.1, steps = 1)
`;

// ------------------------------------------------------------ ir.ts

describe('ir.ts smart constructors', () => {
  let x: Node, y: Node, z: Node;
  beforeEach(() => {
    ir.beginGraph();
    x = ir.pvar(0, 0);
    y = ir.pvar(1, 0);
    z = ir.param('a', 0);
  });

  it('fold constants', () => {
    expect(ir.add(ir.num(2), ir.num(3))).toBe(ir.num(5));
    expect(ir.mul(ir.num(2), ir.num(3))).toBe(ir.num(6));
    expect(ir.sub(ir.num(2), ir.num(3))).toBe(ir.num(-1));
    expect(ir.div(ir.num(1), ir.num(4))).toBe(ir.num(0.25));
    expect(ir.pow(ir.num(3), ir.num(2))).toBe(ir.num(9));
    expect(ir.neg(ir.num(2))).toBe(ir.num(-2));
    expect(ir.op('exp', [ir.num(0)])).toBe(ir.num(1));
    expect(ir.op('max', [ir.num(-1), ir.num(4)])).toBe(ir.num(4));
    expect(ir.add(ir.mul(ir.num(2), ir.num(3)), ir.num(1))).toBe(ir.num(7));
    expect(ir.num(-0)).toBe(ir.num(0));
  });

  it('drop neutral and absorbing elements', () => {
    expect(ir.add(x, ir.num(0))).toBe(x);
    expect(ir.add(ir.num(0), x)).toBe(x);
    expect(ir.sub(x, ir.num(0))).toBe(x);
    expect(ir.mul(x, ir.num(1))).toBe(x);
    expect(ir.mul(ir.num(1), x)).toBe(x);
    expect(ir.mul(x, ir.num(0))).toBe(ir.num(0));
    expect(ir.mul(ir.num(0), x)).toBe(ir.num(0));
    expect(ir.mul(ir.num(-1), x)).toBe(ir.neg(x));
    expect(ir.div(ir.num(0), x)).toBe(ir.num(0));
    expect(ir.div(x, ir.num(1))).toBe(x);
    expect(ir.pow(x, ir.num(1))).toBe(x);
    expect(ir.pow(x, ir.num(0))).toBe(ir.num(1));
    expect(ir.neg(ir.neg(x))).toBe(x);
    expect(ir.expect('mu', 0, ir.num(0))).toBe(ir.num(0));
    expect(ir.sum([])).toBe(ir.num(0));
    expect(ir.sum([x])).toBe(x);
  });

  it('order the operands of commutative ops', () => {
    expect(ir.add(x, y)).toBe(ir.add(y, x));
    expect(ir.mul(x, y)).toBe(ir.mul(y, x));
    expect(ir.mul(z, x)).toBe(ir.mul(x, z));
    expect(ir.op('max', [x, y])).toBe(ir.op('max', [y, x]));
    expect(ir.op('min', [x, y])).toBe(ir.op('min', [y, x]));
    expect(ir.add(ir.add(x, y), z)).toBe(ir.add(z, ir.add(y, x)));
    // and only those
    expect(ir.div(x, y)).not.toBe(ir.div(y, x));
    expect(ir.op('ge', [x, y])).not.toBe(ir.op('ge', [y, x]));
    expect(ir.pow(x, y)).not.toBe(ir.pow(y, x));
  });

  it('hash-cons: equal expressions are one object, a fresh graph starts over', () => {
    expect(ir.op('sin', [ir.add(x, y)])).toBe(ir.op('sin', [ir.add(x, y)]));
    expect(ir.param('a', 1)).toBe(ir.param('a', 1));
    expect(ir.param('a', 1)).not.toBe(ir.param('a', 0));
    expect(ir.pvar(3, 1)).toBe(ir.pvar(3, 1));
    expect(ir.pvar(3, 1)).not.toBe(ir.pvar(1, 3));
    expect(ir.expect('mu', 0, ir.op('exp', [x]))).toBe(ir.expect('mu', 0, ir.op('exp', [x])));
    expect(ir.expect('mu', 0, ir.op('exp', [x]))).not.toBe(ir.expect('nu', 0, ir.op('exp', [x])));
    const half = ir.num(0.5);
    const ids = new Set(ir.topoOrder([ir.add(ir.mul(x, y), ir.op('sin', [ir.mul(y, x)]))]).map((n) => n.id));
    expect(ids.size).toBe(5); // x, y, x*y, sin(x*y) and the sum: the product is shared
    ir.beginGraph();
    expect(ir.num(0.5)).not.toBe(half);
  });

  it('x + x = 2x', () => {
    expect(ir.add(x, x)).toBe(ir.mul(ir.num(2), x));
    expect(ir.mul(x, x)).toBe(ir.square(x));
    expect(ir.pow(x, ir.num(2))).toBe(ir.square(x));
    expect(ir.square(ir.neg(x))).toBe(ir.square(x));
  });

  it('(p - q)^2 and (q - p)^2 are one node, whatever the order the variables were made in', () => {
    const p = ir.pvar(0, 1);
    const q = ir.pvar(1, 1);
    expect(ir.square(ir.sub(p, q))).toBe(ir.square(ir.sub(q, p)));
    // a variable made after the difference's negation (the query point X of a first variation)
    const nq = ir.neg(q);
    const X = ir.pvar(7, 1);
    expect(nq.id).toBeLessThan(X.id);
    expect(ir.square(ir.sub(X, q))).toBe(ir.square(ir.sub(q, X)));
    // and after renaming p := X, as the first variation does: k(x, y) with x := X is k(y, X)'s square
    const renamed = ir.renameVars(ir.square(ir.sub(p, q)), new Map([[0, 7]]));
    expect(renamed).toBe(ir.square(ir.sub(q, X)));
    expect(renamed).toBe(ir.square(ir.sub(X, q)));
    // compound operands too
    const a = ir.op('sin', [x]);
    const b = ir.mul(y, z);
    expect(ir.square(ir.sub(a, b))).toBe(ir.square(ir.sub(b, a)));
  });

  it('preserve values (random expressions built through the constructors)', () => {
    type T = { build: () => Node; value: (v: number[]) => number };
    const leaf = fc.oneof(
      fc.integer({ min: 0, max: 2 }).map((k): T => ({ build: () => ir.pvar(k, 0), value: (v) => v[k] })),
      fc.constantFrom(0, 1, -1, 2, 0.5, -3).map((c): T => ({ build: () => ir.num(c), value: () => c })),
      fc.constant<T>({ build: () => ir.param('a', 0), value: (v) => v[3] }),
    );
    const tree = fc.letrec<{ t: T }>((tie) => ({
      t: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.tuple(fc.constantFrom('add', 'sub', 'mul', 'div', 'pow2'), tie('t'), tie('t')).map(([o, a, b]): T => {
          switch (o) {
            case 'add': return { build: () => ir.add(a.build(), b.build()), value: (v) => a.value(v) + b.value(v) };
            case 'sub': return { build: () => ir.sub(a.build(), b.build()), value: (v) => a.value(v) - b.value(v) };
            case 'mul': return { build: () => ir.mul(a.build(), b.build()), value: (v) => a.value(v) * b.value(v) };
            case 'div':
              return { build: () => ir.div(a.build(), ir.add(ir.num(3), ir.square(b.build()))), value: (v) => a.value(v) / (3 + b.value(v) ** 2) };
            default: return { build: () => ir.square(ir.sub(a.build(), b.build())), value: (v) => (a.value(v) - b.value(v)) ** 2 };
          }
        }),
        fc.tuple(fc.constantFrom('neg', 'sin', 'tanh'), tie('t')).map(([o, a]): T => ({
          build: () => (o === 'neg' ? ir.neg(a.build()) : ir.op(o as OpName, [a.build()])),
          value: (v) => (o === 'neg' ? -a.value(v) : o === 'sin' ? Math.sin(a.value(v)) : Math.tanh(a.value(v))),
        })),
      ),
    }));
    const point = fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 4, maxLength: 4 });
    fc.assert(
      fc.property(tree.t, point, (t, v) => {
        ir.beginGraph();
        const node = t.build();
        const data = new Float64Array(v.slice(0, 3));
        const got = interpret(node, envOf({ a: [v[3]] }, []), new Map([0, 1, 2].map((k) => [k, { data, offset: k }])));
        const want = t.value(v);
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));
      }),
      { numRuns: 300 },
    );
  });

  it('free variables and renaming respect binders', () => {
    const body = ir.mul(ir.pvar(0, 0), ir.pvar(1, 0));
    const e = ir.expect('mu', 1, body);
    expect([...ir.freeVarsOf()(e)]).toEqual([0]);
    expect([...ir.freeVarsOf()(body)].sort()).toEqual([0, 1]);
    expect(() => ir.renameVars(e, new Map([[1, 5]]))).toThrow();
    const renamed = ir.renameVars(e, new Map([[0, 5]]));
    expect([...ir.freeVarsOf()(renamed)]).toEqual([5]);
  });
});

// ------------------------------------------------------------ ops.ts

describe('ops.ts: every op', () => {
  /** Points (argument tuples) where each op is smooth, and its arity. */
  const POINTS: Record<OpName, number[][]> = {
    add: [[0.3, -1.2], [2, 5]],
    mul: [[0.3, -1.2], [-2, 5]],
    div: [[0.3, -1.2], [2, 0.5]],
    neg: [[0.7], [-3]],
    pow: [[1.3, 2.5], [0.7, -1.5], [2, 3], [1.7, 2]],
    exp: [[0.3], [-1.5]],
    log: [[0.3], [4]],
    sqrt: [[0.3], [4]],
    abs: [[0.3], [-2]],
    sign: [[0.3], [-2]],
    floor: [[0.3], [-2.5]],
    sin: [[0.3], [-2]],
    cos: [[0.3], [-2]],
    tanh: [[0.3], [-2]],
    sigmoid: [[0.3], [-2]],
    relu: [[0.3], [-2]],
    heaviside: [[0.3], [-2]],
    max: [[0.3, -1], [-2, 1]],
    min: [[0.3, -1], [-2, 1]],
    ge: [[0.3, -1], [-2, 1]],
    norm: [[0.3, -1, 2], [3, 4], [-0.5]],
    divz: [[0.3, -1.2], [2, 0.5]],
  };

  it('the table of points covers every op', () => {
    expect(Object.keys(POINTS).sort()).toEqual(Object.keys(OPS).sort());
  });

  /** The op applied to parameters a0, a1, ...; partial k read back by parameter name. */
  function partials(name: OpName, point: number[]) {
    ir.beginGraph();
    const args = point.map((_, k) => ir.param(`a${k}`, 0));
    const node = ir.op(name, args);
    if (node.kind !== 'op') throw new Error(`${name} folded its parameters`);
    const params = Object.fromEntries(point.map((v, k) => [`a${k}`, [v]]));
    const env = envOf(params, []);
    const out = new Array<number>(point.length);
    node.args.forEach((a, k) => {
      const which = Number((a as ir.NodeOf<'param'>).name.slice(1));
      out[which] = interpret(OPS[name].partial(node.args, k, node), env);
    });
    return { value: interpret(node, env), partial: out };
  }

  for (const name of Object.keys(POINTS) as OpName[]) {
    it(`${name}: partial derivatives match a numerical derivative of evaluate, and the JS emission matches evaluate`, () => {
      const def = OPS[name];
      for (const point of POINTS[name]) {
        const { value, partial } = partials(name, point);
        expect(value).toBe(def.evaluate(point));
        point.forEach((v, k) => {
          const h = 1e-6 * Math.max(1, Math.abs(v));
          const at = (d: number) => def.evaluate(point.map((u, j) => (j === k ? u + d : u)));
          const fd = (at(h) - at(-h)) / (2 * h);
          expect(Math.abs(partial[k] - fd), `d${name}/da${k} at ${point}: ${partial[k]} vs ${fd}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(fd)));
        });
        const names = point.map((_, k) => `a${k}`);
        const js = new Function(...names, `return ${def.js(names)};`) as (...a: number[]) => number;
        const emitted = js(...point);
        expect(Math.abs(emitted - value), `${name} emitted ${def.js(names)}`).toBeLessThanOrEqual(1e-15 * Math.abs(value));
      }
    });
  }

  it('pow emits a product for a literal exponent 2', () => {
    expect(OPS.pow.js(['a0', '2'])).not.toContain('Math.pow');
    expect(new Function('a0', `return ${OPS.pow.js(['a0', '2'])};`)(1.1)).toBe(1.1 * 1.1);
  });

  it('subgradient conventions at the kinks: sign(0) = 0, |.|\'(0) = 0, relu\'(0) = 0, divz(a, 0) = 0, grad |v| = 0 at v = 0', () => {
    const zero = (v: number) => expect(Math.abs(v)).toBe(0);
    zero(OPS.sign.evaluate([0]));
    zero(OPS.sign.evaluate([-0]));
    zero(partials('abs', [0]).partial[0]);
    zero(partials('relu', [0]).partial[0]);
    zero(OPS.heaviside.evaluate([0]));
    zero(OPS.divz.evaluate([1, 0]));
    zero(OPS.divz.evaluate([0, 0]));
    for (const k of [0, 1, 2]) zero(partials('norm', [0, 0, 0]).partial[k]);
    zero(partials('divz', [1, 0]).partial[0]);
    zero(partials('divz', [1, 0]).partial[1]);
    // the emitted JS follows the same conventions
    const run = (name: OpName, point: number[]) => {
      const names = point.map((_, k) => `a${k}`);
      return (new Function(...names, `return ${OPS[name].js(names)};`) as (...a: number[]) => number)(...point);
    };
    zero(run('sign', [0]));
    zero(run('relu', [0]));
    zero(run('heaviside', [0]));
    zero(run('divz', [1, 0]));
    zero(run('norm', [0, 0]));
    // max and min at a tie: a subgradient (the partials sum to 1)
    for (const name of ['max', 'min'] as const) {
      const { partial } = partials(name, [0.5, 0.5]);
      expect(partial[0] + partial[1]).toBe(1);
      expect(partial.every((p) => p === 0 || p === 1)).toBe(true);
    }
  });
});

// ------------------------------------------------------------ desugar.ts

/** Compact structure of an expression; binder names canonicalised by order of appearance. */
function shape(e: Expr, names = new Map<string, string>()): string {
  const nm = (n: string) => {
    if (!n.startsWith('%')) return n;
    if (!names.has(n)) names.set(n, `b${names.size}`);
    return names.get(n)!;
  };
  switch (e.kind) {
    case 'num':
      return String(e.value);
    case 'ident':
      return nm(e.name);
    case 'binary':
      return `(${shape(e.left, names)} ${e.op} ${shape(e.right, names)})`;
    case 'neg':
      return `-${shape(e.operand, names)}`;
    case 'call':
      return `${e.callee}(${e.args.map((a) => shape(a.value, names)).join(', ')}${e.extra.length ? `; ${e.extra.map((a) => shape(a.value, names)).join(', ')}` : ''})`;
    case 'expect':
      return `E[${e.binders.map((b) => `${b.names.map((n) => nm(n.name)).join(',')}~${b.measure}`).join(', ')}] ${shape(e.body, names)}`;
    default:
      return `<${e.kind}>`;
  }
}

describe('desugar.ts', () => {
  const source = `flow d
particles mu in R^2: 5 ~ normal(0, 1)
sample nu in R^2: 4 ~ normal(0, 1)
kernel k(x, y) = exp(-|x - y|^2)
fn W(x, y) = x[0] * y[1]
fn V(x) = |x|^2
energy F = mmd2(mu, nu; k) + interaction(mu; W) - potential(mu; V)
scheme euler(step = 0.1, steps = 1)
record every 1: F, m = mmd2(nu, mu; k)
`;
  const energyOf = (p: Program) => p.decls.find((d) => d.kind === 'energy') as Extract<Program['decls'][number], { kind: 'energy' }>;

  it('expands mmd2, interaction and potential into expectations', () => {
    const out = desugar(parsed(source));
    expect(shape(energyOf(out).body)).toBe(
      '((((E[b0~mu, b1~mu] k(b0, b1) - (2 * E[b2~mu, b3~nu] k(b2, b3))) + E[b4~nu, b5~nu] k(b4, b5))' +
        ' + (0.5 * E[b6~mu, b7~mu] W(b6, b7))) - E[b8~mu] V(b8))',
    );
    const record = out.decls.find((d) => d.kind === 'record') as Extract<Program['decls'][number], { kind: 'record' }>;
    expect(shape(record.items[1].value)).toBe('((E[b0~nu, b1~nu] k(b0, b1) - (2 * E[b2~nu, b3~mu] k(b2, b3))) + E[b4~mu, b5~mu] k(b4, b5))');
  });

  it('binds fresh names that no identifier can spell', () => {
    const out = desugar(parsed(source));
    const binders: string[] = [];
    const walk = (e: Expr): void => {
      if (e.kind === 'expect') {
        for (const b of e.binders) binders.push(...b.names.map((n) => n.name));
        walk(e.body);
      } else if (e.kind === 'binary') {
        walk(e.left);
        walk(e.right);
      }
    };
    walk(energyOf(out).body);
    expect(binders.length).toBe(9);
    expect(new Set(binders).size).toBe(binders.length);
    for (const b of binders) expect(b).toMatch(/^%/);
  });

  it('does not mutate its input, and returns a frozen tree', () => {
    const input = parsed(source);
    const before = JSON.stringify(input);
    const out = desugar(input);
    expect(JSON.stringify(input)).toBe(before);
    expect(energyOf(input).body.kind).toBe('binary');
    expect(shape(energyOf(input).body)).toBe('((mmd2(mu, nu; k) + interaction(mu; W)) - potential(mu; V))');
    expect(out).not.toBe(input);
    expect(Object.isFrozen(out)).toBe(true);
    expect(Object.isFrozen(energyOf(out).body)).toBe(true);
    expect(() => {
      (energyOf(out) as { name: string }).name = 'G';
    }).toThrow();
    // desugaring is idempotent once the built-ins are gone
    expect(shape(energyOf(desugar(out)).body)).toBe(shape(energyOf(out).body));
  });

  it('leaves calls of the wrong shape for lowering to report', () => {
    const bad = `flow d
particles mu in R^2: 5 ~ normal(0, 1)
kernel k(x, y) = exp(-|x - y|^2)
energy F = mmd2(mu; k) + interaction(mu, mu; k)
scheme euler(step = 0.1, steps = 1)
`;
    expect(shape(energyOf(desugar(parsed(bad))).body)).toBe('(mmd2(mu; k) + interaction(mu, mu; k))');
    expect(errorsOf(bad).map((d) => d.message).join('\n')).toMatch(/mmd2 takes two measures and a kernel/);
  });
});

// ------------------------------------------------------------ lower.ts

describe('lower.ts', () => {
  it('checks shapes and reports mismatches with their position', () => {
    const cases: [string, RegExp, number][] = [
      ['energy F = E[x ~ mu] dot(x, [1, 2])', /dot needs two vectors of the same dimension.*R\^3.*R\^2/, 5],
      ['energy F = E[x ~ mu] |x + [1, 2]|^2', /cannot add R\^3 and R\^2/, 5],
      ['energy F = E[x ~ mu] x', /the energy must be a scalar/, 5],
      ['energy F = E[x ~ mu] x[3]', /out of range/, 5],
      ['energy F = E[x ~ mu] x.w', /has no blocks/, 5],
      ['energy F = E[x ~ mu] x * x', /cannot multiply R\^3 by R\^3/, 5],
      ['fn f(a, b) = a * b\nenergy F = E[x ~ mu] f(x)', /'f' takes 2 arguments, got 1/, 6],
    ];
    for (const [line, message, lineNo] of cases) {
      const errs = errorsOf(`${HEAD}particles mu in R^3: 4 ~ normal(0, 1)\n${line}\n`);
      expect(errs.length, line).toBeGreaterThan(0);
      expect(errs[0].message, line).toMatch(message);
      expect(errs[0].span?.line, line).toBe(lineNo);
    }
  });

  it('inlines functions (polymorphic in their argument shapes) into plain ops', () => {
    const c = compiled(`${HEAD}let a = 3
particles mu in R^2: 6 ~ normal(0, 1)
fn sq(v) = |v|^2
fn twice(f) = 2 * f
energy F = E[x ~ mu] twice(sq(x)) + sq(a) + sq([a, 1])
`);
    const { env, measures } = envFor(c);
    const x = measures[0].data;
    let mean = 0;
    for (let i = 0; i < 6; i++) mean += (2 * (x[2 * i] ** 2 + x[2 * i + 1] ** 2)) / 6;
    expect(interpret(c.ir.energy.node, env)).toBeCloseTo(mean + 9 + 10, 12);
    const kinds = new Set(ir.topoOrder([c.ir.energy.node]).map((n) => n.kind));
    expect([...kinds].sort()).toEqual(['expect', 'num', 'op', 'param', 'var']);
  });

  it('scalarises record spaces into blocks of one flat point, with .block and destructuring', () => {
    const c = compiled(`${HEAD}particles mu in (w: R, theta: R^2): 5 ~ (w: normal(0, 1), theta: normal(0, 1))
energy F = E[u ~ mu] u.w * u.theta[1] + E[(w, th) ~ mu] w * th[1] * 0.5
record every 1: F, one = E[u ~ mu] u.w * u.theta[1], two = E[(w, th) ~ mu] w * th[1]
`);
    const e = c.ir.energy.node;
    const comps = new Set(ir.topoOrder([e]).flatMap((n) => (n.kind === 'var' ? [n.c] : [])));
    expect([...comps].sort()).toEqual([0, 2]);
    const { env, measures } = envFor(c);
    const u = measures[0].data;
    let want = 0;
    for (let i = 0; i < 5; i++) want += (u[3 * i] * u[3 * i + 2]) / 5;
    const items = c.observed.map((o) => interpret(o.node, env));
    expect(items[0]).toBeCloseTo(1.5 * want, 12);
    expect(items[1]).toBeCloseTo(want, 12);
    expect(items[2]).toBeCloseTo(want, 12);
  });

  it('lowers |v|^2 to a sum of squares without a square root; |v| to a norm, |s| to abs', () => {
    const energy = (body: string) =>
      compiled(`${HEAD}particles mu in R^3: 4 ~ normal(0, 1)\nenergy F = E[x ~ mu] ${body}\n`).ir.energy.node;
    const sq = ops(energy('|x - [1, 2, 3]|^2'));
    for (const o of ['sqrt', 'norm', 'abs']) expect(sq.has(o), o).toBe(false);
    expect(sq.has('pow')).toBe(true);
    expect(ops(energy('|x[0] - 1|^2')).has('abs')).toBe(false);
    expect(ops(energy('|x|')).has('norm')).toBe(true);
    expect(ops(energy('|x[1]|')).has('abs')).toBe(true);
    expect(ops(energy('norm(x)')).has('norm')).toBe(true);
  });

  it('applies --set overrides to let constants (and to lets computed from them)', () => {
    const source = `${HEAD}let sigma = 1
let c = 2 * sigma
let b = [1, 2]
particles mu in R^2: 4 ~ normal(0, 1)
energy F = E[x ~ mu] exp(-|x|^2 / (c * sigma^2)) + b[1]
`;
    const plain = lowered(source).ir!;
    const set = lowered(source, { sigma: [0.3] }).ir!;
    const value = (p: typeof plain, name: string) => p.params.find((q) => q.name === name)!.value;
    expect(value(plain, 'sigma')).toEqual([1]);
    expect(value(set, 'sigma')).toEqual([0.3]);
    expect(value(set, 'c')).toEqual([0.6]);
    expect(value(lowered(source, { b: [5, 6] }).ir!, 'b')).toEqual([5, 6]);
    // lets stay parameters in the IR: the energy reads them, it does not bake them in
    const names = new Set(ir.topoOrder([set.energy.node]).flatMap((n) => (n.kind === 'param' ? [`${n.name}[${n.c}]`] : [])));
    expect([...names].sort()).toEqual(['b[1]', 'c[0]', 'sigma[0]']);
    expect(errorsOf(source, { nope: [1] })[0].message).toMatch(/--set nope/);
    expect(errorsOf(source, { b: [1] })[0].message).toMatch(/--set b: expected a vector of 2 numbers/);
  });

  it('treats R^1 as R', () => {
    const a = compiled(`${HEAD}particles mu in R^1: 4 ~ normal(0, 1)\nenergy F = E[x ~ mu] x * x\n`);
    const b = compiled(`${HEAD}particles mu in R: 4 ~ normal(0, 1)\nenergy F = E[x ~ mu] x * x\n`);
    expect(ir.printNode(a.ir.energy.node)).toBe(ir.printNode(b.ir.energy.node));
  });
});

// ------------------------------------------------------------ derive.ts

describe('derive.ts', () => {
  const point = (xs: number[]) => ({ data: new Float64Array(xs), offset: 0 });
  const rows = (data: Float64Array, d: number) => Array.from({ length: data.length / d }, (_, i) => Array.from(data.subarray(i * d, i * d + d)));
  const mu = new Float64Array([0.3, -1.1, 1.4, 0.2, -0.7, 0.9, 0.05, 0.6, -1.3, -0.4]);
  const nu = new Float64Array([1.1, 0.5, -0.2, -0.8, 0.7, 1.9]);
  const env = envOf({ c: [0.7] }, [
    { name: 'mu', data: mu, size: 5, dim: 2 },
    { name: 'nu', data: nu, size: 3, dim: 2 },
  ]);

  // a non-symmetric h(a, b) = sin(a0) b1 + exp(c a1 - 2 b0), built in the IR and in JS
  const hIR = (a: Node[], b: Node[]) =>
    ir.add(ir.mul(ir.op('sin', [a[0]]), b[1]), ir.op('exp', [ir.sub(ir.mul(ir.param('c'), a[1]), ir.mul(ir.num(2), b[0]))]));
  const hJS = (a: number[], b: number[]) => Math.sin(a[0]) * b[1] + Math.exp(0.7 * a[1] - 2 * b[0]);
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

  let x: VarInfo, y: VarInfo, X: VarInfo;
  beforeEach(() => {
    ir.beginGraph();
    x = ir.newVar('mu', 2, 'x');
    y = ir.newVar('mu', 2, 'y');
    X = ir.newVar(QUERY, 2, 'X');
  });

  it('first variation of E[x~mu, y~mu] h(x, y) is E_y h(X, y) + E_x h(x, X), for a non-symmetric h', () => {
    const F = ir.expect('mu', x.id, ir.expect('mu', y.id, hIR(ir.components(x), ir.components(y))));
    const fv = firstVariation(F, 'mu', X);
    for (const P of [[0.2, -0.3], [1.5, 0.8]]) {
      const got = interpret(fv, env, new Map([[X.id, point(P)]]));
      const first = mean(rows(mu, 2).map((r) => hJS(P, r)));
      const second = mean(rows(mu, 2).map((r) => hJS(r, P)));
      expect(Math.abs(first - second)).toBeGreaterThan(1e-2); // h is really not symmetric here
      expect(got).toBeCloseTo(first + second, 12);
    }
  });

  it('first variation through a nested expectation: E_z g(E_x phi(x, z)) gives E_z g\'(f(z)) phi(X, z)', () => {
    const z = ir.newVar('nu', 2, 'z');
    const phi = (a: Node[], b: Node[]) => ir.op('tanh', [ir.add(ir.mul(a[0], b[1]), a[1])]);
    const phiJS = (a: number[], b: number[]) => Math.tanh(a[0] * b[1] + a[1]);
    const inner = ir.expect('mu', x.id, phi(ir.components(x), ir.components(z)));
    const F = ir.expect('nu', z.id, ir.op('sin', [inner]));
    const fv = firstVariation(F, 'mu', X);
    const P = [0.4, -0.9];
    const want = mean(rows(nu, 2).map((zr) => Math.cos(mean(rows(mu, 2).map((xr) => phiJS(xr, zr)))) * phiJS(P, zr)));
    expect(interpret(fv, env, new Map([[X.id, point(P)]]))).toBeCloseTo(want, 12);
  });

  it('expectations over fixed measures only have no first variation', () => {
    const a = ir.newVar('nu', 2, 'a');
    const b = ir.newVar('nu', 2, 'b');
    const F = ir.expect('nu', a.id, ir.expect('nu', b.id, hIR(ir.components(a), ir.components(b))));
    expect(ir.isZero(firstVariation(F, 'mu', X))).toBe(true);
    expect(ir.isZero(firstVariation(ir.param('c'), 'mu', X))).toBe(true);
  });

  it('the gradient in X matches a finite difference of the first variation; the velocity is its negative', () => {
    const F = ir.add(
      ir.expect('mu', x.id, ir.expect('mu', y.id, hIR(ir.components(x), ir.components(y)))),
      ir.expect('mu', x.id, ir.op('log', [ir.add(ir.num(1), ir.square(ir.components(x)[0]))])),
    );
    const { firstVariation: fv, velocity } = w2Velocity(F, 'mu', X);
    const P = [0.25, -0.6];
    const at = (q: number[]) => interpret(fv, env, new Map([[X.id, point(q)]]));
    for (const c of [0, 1]) {
      const h = 1e-5;
      const fd = (at(P.map((v, k) => (k === c ? v + h : v))) - at(P.map((v, k) => (k === c ? v - h : v)))) / (2 * h);
      const grad = interpret(derivative(fv, X.id, c), env, new Map([[X.id, point(P)]]));
      expect(Math.abs(grad - fd)).toBeLessThan(1e-8 * Math.max(1, Math.abs(fd)));
      expect(interpret(velocity[c], env, new Map([[X.id, point(P)]]))).toBeCloseTo(-grad, 14);
    }
  });
});

// ------------------------------------------------------------ schedule.ts

const MMD = `${HEAD}let sigma = 0.8
particles mu in R^2: 7 ~ normal(0, 1)
sample nu in R^2: 5 ~ normal(1, 0.5)
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
`;
const TRIPLE = `${HEAD}particles mu in R^2: 7 ~ normal(0, 1)
sample data in R^2: 4 ~ normal(0, 1)
fn h(x, y, z) = sin(x[0] * z[1] - y[1]) + x[1] * y[0] * z[0]
energy F = E[z ~ data] (E[x ~ mu, y ~ mu] h(x, y, z))^2
`;
const FIXED_OUTER = `${HEAD}particles mu in R^2: 7 ~ normal(0, 1)
sample nu in R^2: 5 ~ normal(0, 1)
sample data in R^2: 4 ~ normal(0, 1)
fn h(x, z, r) = sin(x[0] * z[1] + r[0]) + x[1] * r[1]
energy F = E[z ~ data] E[r ~ nu] (E[x ~ mu] h(x, z, r))^2
`;
const SAME_LEVEL = `${HEAD}particles mu in R^2: 7 ~ normal(0, 1)
fn V(x) = sin(x[0]) + x[1]^2
kernel k(x, y) = exp(-|x - y - [0.3, 0.1]|^2)
energy F = E[x ~ mu, y ~ mu] k(x, y) + (E[x ~ mu] V(x))^2
`;
const RELU = `${HEAD}let lambda = 0.01
particles mu in (w: R, theta: R^2): 7 ~ (w: normal(0, 0.5), theta: normal(0, 1))
sample teacher in (w: R, theta: R^2): 3 ~ (w: normal(0, 1), theta: normal(0, 1))
sample data in R^2: 5 ~ normal(0, 1)
fn phi(u, x) = u.w * relu(dot(u.theta, x))
energy F = 1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - E[v ~ teacher] phi(v, x))^2 + lambda * E[u ~ mu] |u.w| * |u.theta|
`;

/** Buffers reached by a list of stages. */
const stageBuffers = (plan: Plan, stages: Plan['setup']) => stages.flatMap((s) => s.reductions.flatMap((r) => r.buffers)).map((b) => plan.buffers[b]);

describe('schedule.ts', () => {
  it('hoists the E[y~nu, y\'~nu] term of MMD² into the setup', () => {
    const { plan } = compiled(MMD);
    const setup = stageBuffers(plan, plan.setup);
    expect(setup.length).toBeGreaterThan(0);
    for (const b of setup) {
      expect(b.hoisted).toBe(true);
      expect(b.expr.measure).toBe('nu');
      expect([null, 'nu']).toContain(b.domain);
    }
    // the closed nu-nu double sum is one of them, and no per-step program recomputes it
    expect(setup.some((b) => b.domain === null && loadsIn(b.expr.body).some((l) => plan.buffers[l].domain === 'nu'))).toBe(true);
    for (const p of Object.values(plan.programs))
      for (const b of stageBuffers(plan, p.stages)) expect(b.expr.measure === 'nu' && (b.domain === null || b.domain === 'nu')).toBe(false);
  });

  it('computes the velocity of ½MMD² in one stage, one reduction over mu and one over nu', () => {
    const { plan } = compiled(MMD);
    const stages = plan.programs.velocity.stages;
    expect(stages.length).toBe(1);
    expect(stages[0].domain).toBe(QUERY);
    expect(stages[0].reductions.map((r) => r.measure).sort()).toEqual(['mu', 'nu']);
    expect(stages[0].outputs.length).toBe(2);
  });

  it('keeps an expectation reading two outer points inline (triple nesting)', () => {
    const { plan } = compiled(TRIPLE);
    const fv = ir.freeVarsOf();
    const inline = (stages: Plan['setup']) =>
      stageBuffers(plan, stages).flatMap((b) => ir.topoOrder([b.expr.body]).filter((n) => n.kind === 'expect' && fv(n).size >= 2));
    expect(inline(plan.programs.velocity.stages).length).toBeGreaterThan(0);
    expect(inline(plan.programs.observe.stages).length).toBeGreaterThan(0);
  });

  it('never hoists a buffer whose inline loops integrate over the particles', () => {
    const { plan } = compiled(FIXED_OUTER);
    for (const b of stageBuffers(plan, plan.setup))
      expect(ir.topoOrder([b.expr.body]).some((n) => n.kind === 'expect' && n.measure === 'mu')).toBe(false);
  });

  it('orders stages so that every load reads a buffer computed before (or hoisted)', () => {
    for (const source of [MMD, TRIPLE, FIXED_OUTER, SAME_LEVEL, RELU]) {
      const { plan } = compiled(source);
      const setupDone = new Set(stageBuffers(plan, plan.setup).map((b) => b.id));
      const check = (stages: Plan['setup'], available: Set<number>) => {
        for (const s of stages) {
          const own = s.reductions.flatMap((r) => r.buffers);
          for (const b of own) for (const l of loadsIn(plan.buffers[b].expr.body)) expect(available.has(l), `buffer ${b} reads B${l} before it is computed`).toBe(true);
          own.forEach((b) => available.add(b));
          for (const o of s.outputs) for (const l of loadsIn(o)) expect(available.has(l), `an output reads B${l} before it is computed`).toBe(true);
        }
      };
      check(plan.setup, new Set());
      for (const p of Object.values(plan.programs)) check(p.stages, new Set(setupDone));
    }
  });

  it('keeps memory per domain point: no buffer of size N×M', () => {
    for (const source of [MMD, TRIPLE, FIXED_OUTER, RELU]) {
      const c = compiled(source);
      const names = new Set<string | null>([null, QUERY, ...c.ir.measures.map((m) => m.name)]);
      for (const b of c.plan.buffers) expect(names.has(b.domain)).toBe(true);
      const { measures } = loadMeasures(c.ir);
      const sizes = new Set([0, 1, ...measures.map((m) => m.size)]);
      const positions = measures.find((m) => m.name === c.ir.particles)!.data.slice();
      const backend = new CpuBackend(c, measures, positions);
      const B = (backend as unknown as { B: Float64Array[] }).B;
      expect(B.length).toBe(c.plan.buffers.length);
      for (const buf of B) expect(sizes.has(buf.length), `a buffer of ${buf.length} numbers`).toBe(true);
    }
  });
});

// ------------------------------------------------------------ codegen-js.ts

describe('codegen-js.ts', () => {
  const allKernels = (c: Compiled) => [...c.kernels.setup, ...Object.values(c.kernels.programs).flat()];

  it('emits straight-line code that allocates nothing and compiles', () => {
    for (const source of [MMD, TRIPLE, FIXED_OUTER, RELU]) {
      for (const k of allKernels(compiled(source))) {
        expect(k).not.toMatch(/\bnew\b/);
        expect(k).not.toMatch(/Array|\.push\(|=>|\bfunction\b/);
        expect(k).not.toMatch(/=\s*\[|\[\s*\]/); // array literals
        expect(k).not.toMatch(/=\s*\{|\{\s*\}|\(\s*\{/); // object literals
        expect(k.replace(/^"use strict";\n/, '')).not.toMatch(/["'`]/); // no string but the directive
        expect(() => new Function('P', 'D', 'S', 'B', 'OUT', k)).not.toThrow();
      }
    }
  });

  /** The lines of the body of the loop opened by the first line matching `head`. */
  function loopBody(source: string, head: RegExp): string[] {
    const lines = source.split('\n');
    const start = lines.findIndex((l) => head.test(l));
    expect(start).toBeGreaterThanOrEqual(0);
    const indent = lines[start].search(/\S/);
    const body: string[] = [];
    for (let i = start + 1; i < lines.length; i++) {
      if (lines[i].search(/\S/) === indent && lines[i].trim() === '}') return body;
      body.push(lines[i]);
    }
    throw new Error('unterminated loop');
  }

  it('hoists loop-invariant code out of the inner loop and shares k(x, y) and k(y, x)', () => {
    const c = compiled(MMD);
    const [velocity] = c.kernels.programs.velocity;
    const query = c.layout.slot.get(QUERY)!;
    const mu = c.layout.slot.get('mu')!;
    const inner = loopBody(velocity, new RegExp(`for \\(let j = 0; j < n${mu};`)).join('\n');
    // parameters and the query point are read outside the j loop
    expect(inner).not.toMatch(/P\[/);
    expect(inner).not.toMatch(new RegExp(`D${query}\\[`));
    expect(velocity).toMatch(new RegExp(`D${query}\\[io \\+ 0\\]`));
    // the pairwise terms of MMD² fuse: one exp per pair, shared by both orientations
    expect(inner.match(/Math\.exp\(/g)?.length).toBe(1);
    // the kernel's constant 2 sigma^2 is computed once, before the outer loop
    const outerStart = velocity.indexOf('for (let i');
    expect(velocity.lastIndexOf('P[')).toBeLessThan(outerStart);
  });

  it('the generated stages and the interpreter agree on velocity and energy', () => {
    for (const source of [MMD, TRIPLE, FIXED_OUTER, SAME_LEVEL, RELU]) {
      const c = compiled(source);
      const { env, measures } = envFor(c);
      const particles = measures.find((m) => m.name === c.ir.particles)!;
      const positions = particles.data.slice();
      const backend = new CpuBackend(c, measures, positions);
      backend.setup();
      const v = new Float64Array(positions.length);
      backend.velocity(v);
      const obs = new Float64Array(c.observed.length);
      backend.observe(obs);
      expect(obs[0]).toBeCloseTo(interpret(c.ir.energy.node, env), 12);
      const d = particles.dim;
      for (let i = 0; i < particles.size; i++)
        c.velocity.forEach((node, k) =>
          expect(v[i * d + k]).toBeCloseTo(interpret(node, env, new Map([[c.queryVar.id, { data: positions, offset: i * d }]])), 12),
        );
    }
  });
});
