// Passes: first variation and spatial gradient, as IR → IR rewrites
// (DESIGN.md, "The core idea"; KeOps' DiffT: the derivative of a reduction is
// another reduction over the same axis).
//
// First variation of F with respect to the evolving measure mu, as an
// expression in a fresh point variable X (linear in "perturbations" of mu):
//   FV(c) = 0                       for numbers, parameters, point variables
//   FV(f(a_1..a_n)) = sum_k ∂_k f(a) · FV(a_k)                  (chain rule)
//   FV(E[j~m] b) = [m = mu] b[j := X] + E[j~m] FV(b)
// which gives, e.g., FV(E[x~mu,x'~mu] h) = E[x'~mu] h(X,x') + E[x~mu] h(x,X),
// and for a nested F = E[(x,y)~D] l(E[u~mu] phi(u,x), y) the term
// E[(x,y)~D] l'(f(x), y) phi(X, x).
//
// The W2 velocity is v(X) = -grad_X FV(X); with X = x_i this equals
// -N dF(mu_x)/dx_i (checked by finite differences in the tests).

import * as ir from './ir.js';
import type { Node, VarInfo } from './ir.js';
import { OPS } from './ops.js';

/** Chain rule through an op: sum_k ∂_k f(args) · D(arg_k), skipping zero terms. */
function chainRule(n: ir.NodeOf<'op'>, d: (a: Node) => Node): Node {
  let acc: Node = ir.num(0);
  n.args.forEach((a, k) => {
    const da = d(a);
    if (!ir.isZero(da)) acc = ir.add(acc, ir.mul(OPS[n.op].partial(n.args, k, n), da));
  });
  return acc;
}

/** A rewrite applied once per node of a DAG (memoised by node id). */
function memoised(rule: (n: Node, go: (n: Node) => Node) => Node): (n: Node) => Node {
  const memo = new Map<number, Node>();
  const go = (n: Node): Node => {
    const hit = memo.get(n.id);
    if (hit) return hit;
    ir.work.visits++;
    const out = rule(n, go);
    memo.set(n.id, out);
    return out;
  };
  return go;
}

export function firstVariation(root: Node, measure: string, x: VarInfo): Node {
  // a node without an expectation over `measure` has first variation 0 (what the
  // rule builds, making no node): not recursing into it keeps the pass's depth
  // from growing with d (|x - y|^2 is a chain of d sums)
  const reads = new Map<number, boolean>();
  for (const n of ir.topoOrder([root])) reads.set(n.id, (n.kind === 'expect' && n.measure === measure) || ir.children(n).some((k) => reads.get(k.id)));
  return memoised((n, go) => {
    if (!reads.get(n.id)) return ir.num(0);
    switch (n.kind) {
      case 'num':
      case 'param':
      case 'var':
      case 'load':
        return ir.num(0);
      case 'op':
        return chainRule(n, go);
      case 'expect': {
        const direct = n.measure === measure ? ir.renameVars(n.body, new Map([[n.v, x.id]])) : ir.num(0);
        return ir.add(direct, ir.expect(n.measure, n.v, go(n.body)));
      }
      case 'skip':
        // the indicator of distinct indices does not depend on the measure
        return ir.skip(n.a, n.b, go(n.body));
      default:
        return ir.assertNever(n);
    }
  })(root);
}

/**
 * ∂ root / ∂ one leaf: `leaf` says whether a point-variable component or a
 * parameter component is the one differentiated (1) or not (0). Expectations
 * and distinct pairs are linear: their derivative is taken under the sum.
 * `reads`, when given, says which components of the leaf's family each node
 * reads: a node that does not read component `c` has derivative 0 without a
 * visit (the same result; see componentsRead).
 */
function leafDerivative(
  root: Node,
  leaf: (n: ir.NodeOf<'var'> | ir.NodeOf<'param'>) => boolean,
  bound?: number,
  reads?: { index: ComponentIndex; c: number },
): Node {
  return memoised((n, go) => {
    if (reads) {
      if (!reads.index.has(n, reads.c)) return ir.num(0);
      // down a chain of sums (|x - y|^2 over d coordinates) while one operand alone reads the
      // component: d(a + b) = 0 + 1 * d(a) = d(a), what chainRule builds, without a visit per link
      const m = reads.index.chainEnd(n, reads.c);
      if (m !== n) return go(m);
    }
    switch (n.kind) {
      case 'num':
        return ir.num(0);
      case 'var':
      case 'param':
        return ir.num(leaf(n) ? 1 : 0);
      case 'load':
        throw new Error('internal: derivative of a scheduled expression');
      case 'op':
        return chainRule(n, go);
      case 'expect':
        if (n.v === bound) throw new Error('internal: differentiating with respect to a bound variable');
        return ir.expect(n.measure, n.v, go(n.body));
      case 'skip':
        // the pair of a point with itself is left out of the derivative too
        return ir.skip(n.a, n.b, go(n.body));
      default:
        return ir.assertNever(n);
    }
  })(root);
}

/**
 * Which components of a family of leaves (the components of one point
 * variable, or of one parameter vector) each node of `root` reads, as bitsets
 * (undefined: none), built once per root and family. A gradient takes one
 * derivative per component, and without this each of the d passes visited
 * the whole expression (compile time quadratic in d, 20-100 s at d = 1000).
 * A node that does not read the component has derivative 0, which is what
 * the pass would have built (no node is made for a zero derivative), so the
 * result is the same; and a chain of sums is not recursed through, so the
 * pass's depth does not grow with d.
 */
const componentIndexes = new WeakMap<Node, Map<string, ComponentIndex>>();

function componentsRead(root: Node, family: string, component: (n: ir.NodeOf<'var'> | ir.NodeOf<'param'>) => number | undefined): ComponentIndex {
  let byFamily = componentIndexes.get(root);
  if (!byFamily) componentIndexes.set(root, (byFamily = new Map()));
  let index = byFamily.get(family);
  if (!index) byFamily.set(family, (index = new ComponentIndex(root, component)));
  return index;
}

class ComponentIndex {
  private readonly words: number;
  /** by node id in a plain array (ids are small and dense) */
  private readonly sets: (Uint32Array | undefined)[] = [];
  /** where the walk down a chain of sums ends, by component, for the chains whose top a derivative reached first */
  private readonly jumps = new Map<number, (Node | undefined)[]>();
  /** sums inside a chain that has a jump table */
  private readonly covered = new Set<number>();

  constructor(root: Node, component: (n: ir.NodeOf<'var'> | ir.NodeOf<'param'>) => number | undefined) {
    const order = ir.topoOrder([root]);
    let words = 1;
    for (const n of order) {
      if (n.kind !== 'var' && n.kind !== 'param') continue;
      const c = component(n);
      if (c !== undefined) words = Math.max(words, (c >>> 5) + 1);
    }
    this.words = words;
    const sets = this.sets;
    for (const n of order) {
      if (n.kind === 'var' || n.kind === 'param') {
        const c = component(n);
        if (c === undefined) continue;
        const s = new Uint32Array(words);
        s[c >>> 5] |= 1 << (c & 31);
        sets[n.id] = s;
        continue;
      }
      let out: Uint32Array | undefined;
      let shared = true;
      for (const k of ir.children(n)) {
        const s = sets[k.id];
        if (!s || s === out) continue;
        if (!out) out = s;
        else {
          if (shared) (out = Uint32Array.from(out)), (shared = false);
          for (let w = 0; w < words; w++) out[w] |= s[w];
        }
      }
      if (out) sets[n.id] = out;
    }
  }

  /** Whether node n reads component c. */
  has(n: Node, c: number): boolean {
    const s = this.sets[n.id];
    return !!s && ((s[c >>> 5] >>> (c & 31)) & 1) === 1;
  }

  /** From n, down the operand of a sum that alone reads component c, as far as that goes. */
  chainEnd(n: Node, c: number): Node {
    if (n.kind !== 'op' || n.op !== 'add') return n;
    let table = this.jumps.get(n.id);
    if (!table && !this.covered.has(n.id)) this.jumps.set(n.id, (table = this.jumpTable(n)));
    if (table) return table[c] ?? n;
    // inside a chain entered lower down before: one link at a time
    let m: Node = n;
    while (m.kind === 'op' && m.op === 'add') {
      const [a, b]: readonly Node[] = m.args;
      const ha = this.has(a, c);
      if (ha === this.has(b, c)) break;
      m = ha ? a : b;
    }
    return m;
  }

  /** chainEnd(top, c) for every component top reads, in one walk with bitsets (d/32 words a link, not a link per component). */
  private jumpTable(top: Node): (Node | undefined)[] {
    const { words, sets } = this;
    const table: (Node | undefined)[] = [];
    const mark = (w: number, bits: number, m: Node) => {
      for (let v = bits; v !== 0; v &= v - 1) table[w * 32 + (31 - Math.clz32(v & -v))] = m;
    };
    const stack: [Node, Uint32Array][] = [[top, sets[top.id]!]];
    while (stack.length) {
      const [m, mask] = stack.pop()!;
      if (m.kind !== 'op' || m.op !== 'add') {
        for (let w = 0; w < words; w++) if (mask[w]) mark(w, mask[w], m);
        continue;
      }
      this.covered.add(m.id);
      const A = sets[m.args[0].id];
      const B = sets[m.args[1].id];
      let onlyA: Uint32Array | undefined;
      let onlyB: Uint32Array | undefined;
      for (let w = 0; w < words; w++) {
        const k = mask[w];
        if (!k) continue;
        const x = A ? A[w] : 0;
        const y = B ? B[w] : 0;
        const both = k & x & y;
        if (both) mark(w, both, m);
        const oa = k & x & ~y;
        const ob = k & y & ~x;
        if (oa) (onlyA ??= new Uint32Array(words))[w] = oa;
        if (ob) (onlyB ??= new Uint32Array(words))[w] = ob;
      }
      if (onlyA) stack.push([m.args[0], onlyA]);
      if (onlyB) stack.push([m.args[1], onlyB]);
    }
    return table;
  }
}

/** ∂ root / ∂ (component c of point variable v), v free in root. */
export function derivative(root: Node, v: number, c: number): Node {
  const index = componentsRead(root, `v${v}`, (n) => (n.kind === 'var' && n.v === v ? n.c : undefined));
  return leafDerivative(root, (n) => n.kind === 'var' && n.v === v && n.c === c, v, { index, c });
}

/** The W2 velocity field v(X) = -grad_X F'(mu)(X), one node per component. */
export function w2Velocity(energy: Node, measure: string, x: VarInfo): { firstVariation: Node; velocity: Node[] } {
  const fv = firstVariation(energy, measure, x);
  return { firstVariation: fv, velocity: ir.components(x).map((_, c) => ir.neg(derivative(fv, x.id, c))) };
}

/**
 * ∂ root / ∂ (coordinate c of the parameter vector `name`): a state or a
 * critic read directly. Points of measures (and of models, whose points are
 * point variables here) are held fixed; their dependence on a state is the
 * chain rule through the push map (parametric.ts).
 */
export function paramDerivative(root: Node, name: string, c: number): Node {
  const index = componentsRead(root, `p${name}`, (n) => (n.kind === 'param' && n.name === name ? n.c : undefined));
  return leafDerivative(root, (n) => n.kind === 'param' && n.name === name && n.c === c, undefined, { index, c });
}
