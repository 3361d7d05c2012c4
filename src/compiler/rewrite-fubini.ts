// Pass (between derive and schedule): reorder nested expectations (Fubini)
// so that a sum over pairs that factors through a third measure costs
// O(N·D) instead of O(N²·D).
//
//   E[v ~ m1] P · E[x ~ m2] h   =   E[x ~ m2] A · E[v ~ m1] B
//
// where the factors of P · h (a product; P does not read x) are split into B,
// those that read v, and A, the others. The new inner sum E[v ~ m1] B reads
// only v and x when B does: the scheduler makes it one buffer per point of
// m2 (hoisted when m1 is fixed), and the outer sum over m2 a reduction. So
// the student–teacher MMD written with the kernel k(u, u') = E[x ~ data]
// phi(u, x) phi(u', x),
//
//   E[u ~ mu, u' ~ mu] E[x ~ data] phi(u, x) phi(u', x),
//
// is computed as E[x ~ data] (E[u ~ mu] phi(u, x))^2 is: per step one pass
// over (mu, data) pairs, not over (mu, mu, data) triples. Rewritten bottom
// up, so a triple nesting reorders at each level. The rewrite applies only
// when both A and B are non-empty and B reads no other point: otherwise the
// cost would not change. Sums are reordered, so results change by rounding
// only.

import * as ir from './ir.js';
import type { Node } from './ir.js';

/** The factors of a product (a tree of mul nodes), flattened. */
function factors(n: Node): Node[] {
  return n.kind === 'op' && n.op === 'mul' ? n.args.flatMap(factors) : [n];
}

const product = (xs: Node[]): Node => xs.reduce((a, b) => ir.mul(a, b));

export function reorderExpectations(roots: readonly Node[]): Node[] {
  const memo = new Map<number, Node>();
  const free = ir.freeVarsOf();
  const swap = (n: Node): Node => {
    if (n.kind !== 'expect') return n;
    const fs = factors(n.body);
    const k = fs.findIndex((f) => f.kind === 'expect');
    if (k < 0) return n;
    const inner = fs[k] as ir.NodeOf<'expect'>;
    const all = [...factors(inner.body), ...fs.filter((_, i) => i !== k)];
    const withV = all.filter((f) => free(f).has(n.v));
    const rest = all.filter((f) => !free(f).has(n.v));
    if (!withV.length || !rest.length) return n;
    const reads = new Set(withV.flatMap((f) => [...free(f)]));
    if ([...reads].some((u) => u !== n.v && u !== inner.v)) return n;
    return ir.expect(inner.measure, inner.v, ir.mul(product(rest), ir.expect(n.measure, n.v, product(withV))));
  };
  return roots.map((r) => ir.rewrite(r, swap, memo));
}
