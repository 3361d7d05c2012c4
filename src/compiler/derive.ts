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
    const out = rule(n, go);
    memo.set(n.id, out);
    return out;
  };
  return go;
}

export function firstVariation(root: Node, measure: string, x: VarInfo): Node {
  return memoised((n, go) => {
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
 */
function leafDerivative(root: Node, leaf: (n: ir.NodeOf<'var'> | ir.NodeOf<'param'>) => boolean, bound?: number): Node {
  return memoised((n, go) => {
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

/** ∂ root / ∂ (component c of point variable v), v free in root. */
export function derivative(root: Node, v: number, c: number): Node {
  return leafDerivative(root, (n) => n.kind === 'var' && n.v === v && n.c === c, v);
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
  return leafDerivative(root, (n) => n.kind === 'param' && n.name === name && n.c === c);
}
