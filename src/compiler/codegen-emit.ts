// The expression emitter shared by the code generators (codegen-js.ts for the
// float64 cpu backend, codegen-gpujs.ts for gpu.js kernels): one stage
// description, two formatters.
//
// It turns IR nodes into `const tK = ...;` lines placed at the outermost
// scope where their operands are available (loop-invariant hoisting) and
// emits each node once per scope (CSE over the hash-consed DAG). Scopes are
// the stage preamble, the outer point loop, the inner reduction loop, inline
// nested loops, and the post-reduction part of the outer loop. Every name it
// writes is one it made; nothing from the spec is spliced into code.

import * as ir from './ir.js';
import type { Node } from './ir.js';
import { OPS } from './ops.js';
import type { Buffer } from './schedule.js';

export interface Layout {
  /** slot of each measure (and QUERY) in D and S */
  slot: Map<string, number>;
  dim: Map<string, number>;
  /** index in P of component c of parameter name: key `${name}:${c}` */
  param: Map<string, number>;
  buffers: Buffer[];
  /**
   * Weighted measures: measure → the pseudo-measure holding its weights (one
   * number per point). An expectation over a weighted measure is
   * sum_j w_j body_j; over any other, (1/M) sum_j body_j.
   */
  weights?: Map<string, string>;
}

/** The summand of a reduction over measure m at point `index`: the body, times the point's weight when m is weighted. */
export function summand(layout: Layout, names: Pick<Names, 'data'>, m: string, index: string, body: string): string {
  const w = layout.weights?.get(m);
  return w ? `${names.data(w)}[${index}] * ${body}` : body;
}

/** Whether a reduction over m ends with a division by its size (unweighted) or not (weighted). */
export function normalised(layout: Layout, m: string): boolean {
  return !layout.weights?.has(m);
}

export interface Scope {
  lines: string[];
  memo: Map<number, string>;
  /** point variables bound here: data array, row offset and index names */
  binds: Map<number, { arr: string; offset: string; index: string }>;
  /** reduction results readable here (the post-reduction scope) */
  accs?: Map<number, string>;
}

export const scope = (): Scope => ({ lines: [], memo: new Map(), binds: new Map() });

export function literal(v: number): string {
  const s = ir.formatNumber(v);
  return v < 0 || Object.is(v, -0) ? `(${s})` : s;
}

/** How a formatter names the arrays and sizes a stage reads. */
export interface Names {
  /** the points of a measure (and declare it in the preamble if needed) */
  data(measure: string): string;
  /** the number of points of a measure */
  size(measure: string): string;
  /** a stored buffer */
  buffer(b: number): string;
  /** parameter k */
  param(k: number): string;
  /** an inline nested loop over a measure: its header lines and footer, given the index name */
  inlineLoop?(measure: string, index: string): { open: string[]; close: string[] };
}

export interface Emitter {
  pre: Scope;
  emit(n: Node, chain: Scope[]): { code: string; depth: number };
  dimOf(m: string): number;
  slotOf(m: string): number;
}

export function makeEmitter(layout: Layout, names: Names): Emitter {
  const pre = scope();
  let tmp = 0;
  let loops = 0;

  const slotOf = (m: string) => {
    const k = layout.slot.get(m);
    if (k === undefined) throw new Error(`internal: no slot for measure ${m}`);
    return k;
  };
  const dimOf = (m: string) => layout.dim.get(m)!;
  const depthOfVar = (chain: Scope[], v: number): number => {
    for (let d = chain.length - 1; d >= 0; d--) if (chain[d].binds.has(v)) return d;
    throw new Error(`internal: unbound point variable ${v}`);
  };
  const place = (chain: Scope[], depth: number, id: number, code: string): { code: string; depth: number } => {
    const name = `t${tmp++}`;
    chain[depth].lines.push(`const ${name} = ${code};`);
    chain[depth].memo.set(id, name);
    return { code: name, depth };
  };

  const memoHit = (n: Node, chain: Scope[]): { code: string; depth: number } | undefined => {
    for (let d = chain.length - 1; d >= 0; d--) {
      const hit = chain[d].memo.get(n.id);
      if (hit !== undefined) return { code: hit, depth: d };
    }
    return undefined;
  };

  type Emitted = { code: string; depth: number };
  /** An op whose operands are being emitted (a + (-b) is written as a - b: operands a and b, the same IEEE result). */
  type Frame = { n: ir.NodeOf<'op'>; sub: boolean; kids: readonly Node[]; out: Emitted[] };

  /** A node's code when it needs no operands emitted first (a number, a node emitted before, a leaf, a loop), else the frame of its operands. */
  const start = (n: Node, chain: Scope[]): Emitted | Frame => {
    if (n.kind === 'num') return { code: literal(n.value), depth: 0 };
    const hit = memoHit(n, chain);
    if (hit) return hit;
    if (n.kind !== 'op') return leaf(n, chain);
    const sub = n.op === 'add' && n.args[1].kind === 'op' && n.args[1].op === 'neg';
    return { n, sub, kids: sub ? [n.args[0], (n.args[1] as ir.NodeOf<'op'>).args[0]] : n.args, out: [] };
  };
  const finish = (f: Frame, chain: Scope[]): Emitted => {
    const depth = Math.max(0, ...f.out.map((a) => a.depth));
    return place(chain, depth, f.n.id, f.sub ? `${f.out[0].code} - ${f.out[1].code}` : OPS[f.n.op].js(f.out.map((a) => a.code)));
  };

  /**
   * Emit `root` in `chain`: operands first, in order, each node once per scope.
   * The walk keeps its own stack of ops, not the JS stack: a sum of d terms
   * (|x - y|^2 in R^d) is a chain d deep; the lines come out in the order a
   * recursive walk gives.
   */
  const emit = (root: Node, chain: Scope[]): Emitted => {
    const first = start(root, chain);
    if (!('kids' in first)) return first;
    const stack: Frame[] = [first];
    for (;;) {
      const top = stack[stack.length - 1];
      if (top.out.length < top.kids.length) {
        const next = start(top.kids[top.out.length], chain);
        if ('kids' in next) stack.push(next);
        else top.out.push(next);
        continue;
      }
      stack.pop();
      const done = finish(top, chain);
      if (!stack.length) return done;
      stack[stack.length - 1].out.push(done);
    }
  };

  const leaf = (n: Exclude<Node, ir.NodeOf<'op'> | ir.NodeOf<'num'>>, chain: Scope[]): Emitted => {
    switch (n.kind) {
      case 'param': {
        const k = layout.param.get(`${n.name}:${n.c}`);
        if (k === undefined) throw new Error(`internal: unknown parameter`);
        return place(chain, 0, n.id, names.param(k));
      }
      case 'var': {
        const d = depthOfVar(chain, n.v);
        const b = chain[d].binds.get(n.v)!;
        return place(chain, d, n.id, `${b.arr}[${b.offset} + ${n.c}]`);
      }
      case 'load': {
        for (let d = chain.length - 1; d >= 0; d--) {
          const acc = chain[d].accs?.get(n.buffer);
          if (acc !== undefined) return { code: acc, depth: d };
        }
        if (n.v === null) return place(chain, 0, n.id, `${names.buffer(n.buffer)}[0]`);
        const d = depthOfVar(chain, n.v);
        return place(chain, d, n.id, `${names.buffer(n.buffer)}[${chain[d].binds.get(n.v)!.index}]`);
      }
      case 'expect':
        return inlineLoop(n, chain);
      case 'skip': {
        // distinct pairs: the pair of a point with itself adds 0 (its body,
        // possibly infinite there, is computed and not used)
        const da = depthOfVar(chain, n.a);
        const db = depthOfVar(chain, n.b);
        const body = emit(n.body, chain);
        const ia = chain[da].binds.get(n.a)!.index;
        const ib = chain[db].binds.get(n.b)!.index;
        return place(chain, Math.max(da, db, body.depth), n.id, `(${ia} === ${ib} ? 0 : ${body.code})`);
      }
      default:
        return ir.assertNever(n);
    }
  };

  /** An expectation reading two or more outer points: a nested loop, hoisted as far out as it can go. */
  const inlineLoop = (n: ir.NodeOf<'expect'>, chain: Scope[]): { code: string; depth: number } => {
    const free = ir.freeVarsOf()(n);
    const depth = Math.max(0, ...[...free].map((v) => depthOfVar(chain, v)));
    const k = ++loops;
    const loop = scope();
    const m = n.measure;
    loop.binds.set(n.v, { arr: names.data(m), offset: `l${k}o`, index: `l${k}` });
    const inner = [...chain.slice(0, depth + 1), loop];
    const body = emit(n.body, inner);
    const acc = `s${k}`;
    const { open, close } = names.inlineLoop?.(m, `l${k}`) ?? {
      open: [`for (let l${k} = 0; l${k} < ${names.size(m)}; l${k}++) {`],
      close: ['}'],
    };
    chain[depth].lines.push(
      `let ${acc} = 0;`,
      ...open,
      `  const l${k}o = l${k} * ${dimOf(m)};`,
      ...loop.lines.map((l) => '  ' + l),
      `  ${acc} += ${summand(layout, names, m, `l${k}`, body.code)};`,
      ...close,
      ...(normalised(layout, m) ? [`${acc} = ${acc} / ${names.size(m)};`] : []),
    );
    chain[depth].memo.set(n.id, acc);
    return { code: acc, depth };
  };

  return { pre, emit, dimOf, slotOf };
}

/** Whether a stage's bodies contain expectations left inline (nested loops). */
export function hasInlineLoops(roots: readonly Node[]): boolean {
  return ir.topoOrder(roots).some((n) => n.kind === 'expect');
}
