// The table of elementwise operations. One entry per op: its arity, its
// evaluation (constant folding and the IR interpreter), its partial
// derivatives (built from IR nodes, so differentiation is a rewrite), and its
// emission as a JS expression (used by the cpu backend and, since gpu.js
// kernels are a JS subset, by the gpu backend). Adding an op is a one-place
// change; forgetting its derivative is a type error.
//
// Subgradient conventions (DESIGN.md): d|s|/ds = sign(s), sign(0) = 0,
// relu'(0) = 0, grad |v| = v/|v| and 0 at v = 0.

import type { Node } from './ir.js';
import * as ir from './ir.js';
import { expand, splat, type WasmCtx, type WasmReal } from './wasm-math.js';

export type OpName =
  | 'add' | 'mul' | 'div' | 'neg' | 'pow'
  | 'exp' | 'log' | 'sqrt' | 'abs' | 'sign' | 'floor'
  | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'relu' | 'heaviside'
  | 'max' | 'min' | 'ge' | 'norm' | 'divz';

export interface OpDef {
  /** number of arguments; -1 for n-ary */
  arity: number;
  /** operands may be reordered (canonical order by node id) */
  commutative?: boolean;
  evaluate(args: number[]): number;
  /** partial derivative with respect to argument k, as an IR node */
  partial(args: readonly Node[], k: number, self: Node): Node;
  /** JS source of the op applied to already-emitted operand expressions */
  js(args: string[]): string;
  /**
   * WebAssembly text of the op on 128-bit vectors (f64x2 or f32x4, per `t`)
   * applied to already-emitted operand expressions (codegen-wasm.ts); exp,
   * log, ... are wasm-math.ts's expansions, whose lines go to `c`.
   */
  wasm(args: string[], t: WasmReal, c: WasmCtx): string;
  /** printed form for IR dumps */
  print?(args: string[]): string;
}

const zero = () => ir.num(0);
const one = () => ir.num(1);

const unary = (
  evaluate: (a: number) => number,
  partial: (a: Node, self: Node) => Node,
  js: (a: string) => string,
  wasm: (a: string, t: WasmReal, c: WasmCtx) => string,
): OpDef => ({
  arity: 1,
  evaluate: (x) => evaluate(x[0]),
  partial: (args, _k, self) => partial(args[0], self),
  js: (a) => js(a[0]),
  wasm: (a, t, c) => wasm(a[0], t, c),
});

const one$ = (t: WasmReal) => splat(t, 1);
const zero$ = (t: WasmReal) => splat(t, 0);

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const OPS: Record<OpName, OpDef> = {
  add: {
    arity: 2,
    commutative: true,
    evaluate: ([a, b]) => a + b,
    partial: () => one(),
    js: ([a, b]) => `(${a} + ${b})`,
    wasm: ([a, b], t) => `(${t.v}.add ${a} ${b})`,
  },
  mul: {
    arity: 2,
    commutative: true,
    evaluate: ([a, b]) => a * b,
    partial: (args, k) => args[1 - k],
    js: ([a, b]) => `(${a} * ${b})`,
    wasm: ([a, b], t) => `(${t.v}.mul ${a} ${b})`,
  },
  div: {
    arity: 2,
    evaluate: ([a, b]) => a / b,
    partial: ([a, b], k) => (k === 0 ? ir.div(one(), b) : ir.neg(ir.div(a, ir.mul(b, b)))),
    js: ([a, b]) => `(${a} / ${b})`,
    wasm: ([a, b], t) => `(${t.v}.div ${a} ${b})`,
  },
  neg: unary((a) => -a, () => ir.num(-1), (a) => `(-${a})`, (a, t) => `(${t.v}.neg ${a})`),
  pow: {
    arity: 2,
    evaluate: ([a, b]) => (b === 2 ? a * a : Math.pow(a, b)),
    partial: ([a, b], k, self) =>
      k === 0
        ? ir.mul(b, ir.pow(a, ir.add(b, ir.num(-1))))
        : ir.mul(self, ir.op('log', [a])),
    js: ([a, b]) => (b === '2' ? `(${a} * ${a})` : `Math.pow(${a}, ${b})`),
    wasm: ([a, b], t, c) => (b === splat(t, 2) ? `(${t.v}.mul ${a} ${a})` : expand('pow', t, [a, b], c)),
    print: ([a, b]) => `${a}^${b}`,
  },
  exp: unary(Math.exp, (_a, self) => self, (a) => `Math.exp(${a})`, (a, t, c) => expand('exp', t, [a], c)),
  log: unary(Math.log, (a) => ir.div(one(), a), (a) => `Math.log(${a})`, (a, t, c) => expand('log', t, [a], c)),
  sqrt: unary(Math.sqrt, (_a, self) => ir.div(ir.num(0.5), self), (a) => `Math.sqrt(${a})`, (a, t) => `(${t.v}.sqrt ${a})`),
  abs: unary(Math.abs, (a) => ir.op('sign', [a]), (a) => `Math.abs(${a})`, (a, t) => `(${t.v}.abs ${a})`),
  // sign(0) = 0 (Math.sign(-0) is -0, which compares equal to 0)
  sign: unary(Math.sign, zero, (a) => `Math.sign(${a})`, (a, t, c) => expand('sign', t, [a], c)),
  floor: unary(Math.floor, zero, (a) => `Math.floor(${a})`, (a, t) => `(${t.v}.floor ${a})`),
  sin: unary(Math.sin, (a) => ir.op('cos', [a]), (a) => `Math.sin(${a})`, (a, t, c) => expand('sin', t, [a], c)),
  cos: unary(Math.cos, (a) => ir.neg(ir.op('sin', [a])), (a) => `Math.cos(${a})`, (a, t, c) => expand('cos', t, [a], c)),
  tanh: unary(Math.tanh, (_a, self) => ir.add(one(), ir.neg(ir.mul(self, self))), (a) => `Math.tanh(${a})`, (a, t, c) => expand('tanh', t, [a], c)),
  sigmoid: unary(
    sigmoid,
    (_a, self) => ir.mul(self, ir.add(one(), ir.neg(self))),
    (a) => `(1 / (1 + Math.exp(-${a})))`,
    (a, t, c) => `(${t.v}.div ${one$(t)} (${t.v}.add ${one$(t)} ${expand('exp', t, [`(${t.v}.neg ${a})`], c)}))`,
  ),
  relu: unary((a) => (a > 0 ? a : 0), (a) => ir.op('heaviside', [a]), (a) => `(${a} > 0 ? ${a} : 0)`, (a, t) => `(v128.and ${a} (${t.v}.gt ${a} ${zero$(t)}))`),
  heaviside: unary((a) => (a > 0 ? 1 : 0), zero, (a) => `(${a} > 0 ? 1 : 0)`, (a, t) => `(v128.and ${one$(t)} (${t.v}.gt ${a} ${zero$(t)}))`),
  max: {
    arity: 2,
    commutative: true,
    evaluate: ([a, b]) => Math.max(a, b),
    partial: ([a, b], k) =>
      k === 0 ? ir.op('ge', [a, b]) : ir.add(one(), ir.neg(ir.op('ge', [a, b]))),
    js: ([a, b]) => `Math.max(${a}, ${b})`,
    wasm: ([a, b], t) => `(${t.v}.max ${a} ${b})`,
  },
  min: {
    arity: 2,
    commutative: true,
    evaluate: ([a, b]) => Math.min(a, b),
    partial: ([a, b], k) =>
      k === 0 ? ir.op('ge', [b, a]) : ir.add(one(), ir.neg(ir.op('ge', [b, a]))),
    js: ([a, b]) => `Math.min(${a}, ${b})`,
    wasm: ([a, b], t) => `(${t.v}.min ${a} ${b})`,
  },
  ge: {
    arity: 2,
    evaluate: ([a, b]) => (a >= b ? 1 : 0),
    partial: zero,
    js: ([a, b]) => `(${a} >= ${b} ? 1 : 0)`,
    wasm: ([a, b], t) => `(v128.and ${one$(t)} (${t.v}.ge ${a} ${b}))`,
  },
  // Euclidean norm of its operands (the components of a vector)
  norm: {
    arity: -1,
    evaluate: (xs) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0)),
    partial: (args, k, self) => ir.op('divz', [args[k], self]),
    js: (xs) => `Math.sqrt(${xs.map((x) => `${x} * ${x}`).join(' + ')})`,
    wasm: (xs, t) => `(${t.v}.sqrt ${xs.map((x) => `(${t.v}.mul ${x} ${x})`).reduce((acc, x) => `(${t.v}.add ${acc} ${x})`)})`,
    print: (xs) => `|${xs.join(', ')}|`,
  },
  // a / b, and 0 where b = 0 (the gradient of |v| at v = 0)
  divz: {
    arity: 2,
    evaluate: ([a, b]) => (b === 0 ? 0 : a / b),
    partial: ([a, b], k) =>
      k === 0 ? ir.op('divz', [one(), b]) : ir.neg(ir.op('divz', [a, ir.mul(b, b)])),
    js: ([a, b]) => `(${b} == 0 ? 0 : ${a} / ${b})`,
    wasm: ([a, b], t) => `(v128.andnot (${t.v}.div ${a} ${b}) (${t.v}.eq ${b} ${zero$(t)}))`,
  },
};

/** Built-in scalar functions callable from the language, by name. */
export const CALLABLE_OPS: Partial<Record<string, OpName>> = {
  exp: 'exp', log: 'log', sqrt: 'sqrt', abs: 'abs', sign: 'sign', floor: 'floor',
  sin: 'sin', cos: 'cos', tanh: 'tanh', sigmoid: 'sigmoid', relu: 'relu',
  max: 'max', min: 'min',
};
