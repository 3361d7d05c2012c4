// Distinct pairs (LANGUAGE.md): the `x != y` items of an expectation
// `E[x ~ mu, y ~ mu, x != y] W(x, y)`. Each names two binders of the same
// expectation over the same measure; lowering wraps the body in
// `ir.skip(x, y, body)`, which leaves out the pairs of a point with itself
// (derive.ts keeps the skip in the first variation and the velocity, where
// the skipped index is the particle's own).

import type { ExprOf } from './ast.js';
import type { Span } from './diagnostics.js';

/** The variable pairs of the `x != y` items, or null after reporting an error. */
export function distinctPairs(
  e: ExprOf<'expect'>,
  bound: readonly { measure: string; v: number; names: string[] }[],
  err: (span: Span, message: string) => null,
): [number, number][] | null {
  const pairs: [number, number][] = [];
  for (const d of e.distinct ?? []) {
    const side = (s: { name: string; span: Span }) => {
      const b = bound.find((x) => x.names.includes(s.name));
      if (!b) err(s.span, `'${d.left.name} != ${d.right.name}': '${s.name}' is not a point bound by this expectation (write '${s.name} ~ MEASURE' before it)`);
      return b;
    };
    const a = side(d.left);
    const b = side(d.right);
    if (!a || !b) return null;
    if (a === b) return err(d.span, `'${d.left.name} != ${d.right.name}' compares a point with itself: name two binders, as in E[x ~ mu, y ~ mu, x != y]`);
    if (a.measure !== b.measure)
      return err(d.span, `'${d.left.name} != ${d.right.name}' needs two binders over the same measure, but ${d.left.name} ~ ${a.measure} and ${d.right.name} ~ ${b.measure} (points of different measures are never the same point)`);
    pairs.push([a.v, b.v]);
  }
  return pairs;
}

/** The parameter holding size(m), the number of points of measure m (a run-time constant). */
export function sizeParam(measure: string): string {
  return `size(${measure})`;
}
